"""aioipc: asyncio-native inter-process communication."""

from ._errors import BrokenPipe as BrokenPipe
from ._errors import DelimiterNotFound as DelimiterNotFound
from ._errors import IncompleteRead as IncompleteRead
from ._errors import IPCError as IPCError
from ._errors import IPCTimeoutError as IPCTimeoutError
from ._errors import LineTooLong as LineTooLong
from ._errors import NotMainThreadError as NotMainThreadError
from ._errors import ProcessError as ProcessError
from ._loop import loop_factory as loop_factory
from ._loop import new_event_loop as new_event_loop
from ._loop import run as run
from ._version import __version__ as __version__

__all__ = (
    "BrokenPipe",
    "DelimiterNotFound",
    "IPCError",
    "IPCTimeoutError",
    "IncompleteRead",
    "LineTooLong",
    "NotMainThreadError",
    "ProcessError",
    "__version__",
    "loop_factory",
    "new_event_loop",
    "run",
)
