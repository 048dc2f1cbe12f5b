"""aioipc: asyncio-native inter-process communication."""

from ._errors import BrokenPipe as BrokenPipe
from ._errors import DelimiterNotFound as DelimiterNotFound
from ._errors import IncompleteRead as IncompleteRead
from ._errors import IPCError as IPCError
from ._errors import IPCTimeoutError as IPCTimeoutError
from ._errors import LineTooLong as LineTooLong
from ._errors import NotMainThreadError as NotMainThreadError
from ._errors import ProcessError as ProcessError
from ._fork import ForkedProcess as ForkedProcess
from ._fork import open_fork as open_fork
from ._fork import spawn_detached as spawn_detached
from ._loop import loop_factory as loop_factory
from ._loop import new_event_loop as new_event_loop
from ._loop import run as run
from ._signals import SignalHandle as SignalHandle
from ._signals import SignalStream as SignalStream
from ._signals import ignore_signals as ignore_signals
from ._signals import is_alive as is_alive
from ._signals import kill as kill
from ._signals import kill_group as kill_group
from ._signals import on_signal as on_signal
from ._signals import open_signal_stream as open_signal_stream
from ._signals import signal_name as signal_name
from ._signals import signal_number as signal_number
from ._streams import PeerCredentials as PeerCredentials
from ._streams import Stream as Stream
from ._streams import StreamAttribute as StreamAttribute
from ._streams import pipe as pipe
from ._streams import socketpair as socketpair
from ._version import __version__ as __version__

__all__ = (
    "BrokenPipe",
    "DelimiterNotFound",
    "ForkedProcess",
    "IPCError",
    "IPCTimeoutError",
    "IncompleteRead",
    "LineTooLong",
    "NotMainThreadError",
    "PeerCredentials",
    "ProcessError",
    "SignalHandle",
    "SignalStream",
    "Stream",
    "StreamAttribute",
    "__version__",
    "ignore_signals",
    "is_alive",
    "kill",
    "kill_group",
    "loop_factory",
    "new_event_loop",
    "on_signal",
    "open_fork",
    "open_signal_stream",
    "pipe",
    "run",
    "signal_name",
    "signal_number",
    "socketpair",
    "spawn_detached",
)
