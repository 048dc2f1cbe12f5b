"""aioipc: asyncio-native inter-process communication."""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ._addresses import Address as Address
from ._addresses import parse_address as parse_address
from ._children import ExitStatus as ExitStatus
from ._daemon import daemonize as daemonize
from ._daemon import reexec as reexec
from ._datagram import DatagramSocket as DatagramSocket
from ._datagram import open_datagram as open_datagram
from ._detach import spawn_detached as spawn_detached
from ._errors import AlreadyRunning as AlreadyRunning
from ._errors import BrokenPipe as BrokenPipe
from ._errors import DaemonizeError as DaemonizeError
from ._errors import DatagramTooLarge as DatagramTooLarge
from ._errors import DatagramTruncated as DatagramTruncated
from ._errors import DelimiterNotFound as DelimiterNotFound
from ._errors import ExpectEOF as ExpectEOF
from ._errors import ExpectTimeout as ExpectTimeout
from ._errors import FdsTruncated as FdsTruncated
from ._errors import IncompleteRead as IncompleteRead
from ._errors import IPCError as IPCError
from ._errors import IPCTimeoutError as IPCTimeoutError
from ._errors import LineTooLong as LineTooLong
from ._errors import NotMainThreadError as NotMainThreadError
from ._errors import PipelineError as PipelineError
from ._errors import ProcessError as ProcessError
from ._expect import ExpectResult as ExpectResult
from ._fifo import is_fifo as is_fifo
from ._fifo import mkfifo as mkfifo
from ._fifo import open_fifo as open_fifo
from ._fork import ForkedProcess as ForkedProcess
from ._fork import open_fork as open_fork
from ._forking_server import ForkingServer as ForkingServer
from ._forking_server import serve_forking as serve_forking
from ._locks import lock_file as lock_file
from ._loop import loop_factory as loop_factory
from ._loop import new_event_loop as new_event_loop
from ._loop import run as run
from ._net import connect as connect
from ._net import serve as serve
from ._pipes import Pipeline as Pipeline
from ._pipes import open_pipeline as open_pipeline
from ._pipes import pipe_from as pipe_from
from ._pipes import pipe_to as pipe_to
from ._prefork import PreforkServer as PreforkServer
from ._prefork import serve_prefork as serve_prefork
from ._process import CompletedProcess as CompletedProcess
from ._process import Process as Process
from ._process import open_process as open_process
from ._process import run_process as run_process
from ._pty import Terminal as Terminal
from ._pty import open_pty as open_pty
from ._server import Server as Server
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
from ._spawn import DEVNULL as DEVNULL
from ._spawn import PIPE as PIPE
from ._spawn import STDOUT as STDOUT
from ._streams import FdMessage as FdMessage
from ._streams import PeerCredentials as PeerCredentials
from ._streams import Stream as Stream
from ._streams import StreamAttribute as StreamAttribute
from ._streams import pipe as pipe
from ._streams import socketpair as socketpair
from ._version import __version__ as __version__

if _TYPE_CHECKING:  # for type checkers; at run time __getattr__ imports them on first use
    from . import systemd as systemd
    from . import sysv as sysv
    from . import testing as testing

#: Public submodules reachable as ``aioipc.<name>`` after a plain ``import aioipc``;
#: imported on first access, so ``import aioipc`` does not pay for them.
_LAZY_SUBMODULES = frozenset({"systemd", "sysv", "testing"})


def __getattr__(name: str) -> object:
    """Import a public submodule (``aioipc.systemd``, ``aioipc.sysv``, ...) on first use."""
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_SUBMODULES})


__all__ = (  # noqa: RUF022 - plain sorted(), which tests/test_exports.py checks
    "Address",
    "AlreadyRunning",
    "BrokenPipe",
    "CompletedProcess",
    "DEVNULL",
    "DaemonizeError",
    "DatagramSocket",
    "DatagramTooLarge",
    "DatagramTruncated",
    "DelimiterNotFound",
    "ExitStatus",
    "ExpectEOF",
    "ExpectResult",
    "ExpectTimeout",
    "FdMessage",
    "FdsTruncated",
    "ForkedProcess",
    "ForkingServer",
    "IPCError",
    "IPCTimeoutError",
    "IncompleteRead",
    "LineTooLong",
    "NotMainThreadError",
    "PIPE",
    "PeerCredentials",
    "Pipeline",
    "PipelineError",
    "PreforkServer",
    "Process",
    "ProcessError",
    "STDOUT",
    "Server",
    "SignalHandle",
    "SignalStream",
    "Stream",
    "StreamAttribute",
    "Terminal",
    "__version__",
    "connect",
    "daemonize",
    "ignore_signals",
    "is_alive",
    "is_fifo",
    "kill",
    "kill_group",
    "lock_file",
    "loop_factory",
    "mkfifo",
    "new_event_loop",
    "on_signal",
    "open_datagram",
    "open_fifo",
    "open_fork",
    "open_pipeline",
    "open_process",
    "open_pty",
    "open_signal_stream",
    "parse_address",
    "pipe",
    "pipe_from",
    "pipe_to",
    "reexec",
    "run",
    "run_process",
    "serve",
    "serve_forking",
    "serve_prefork",
    "signal_name",
    "signal_number",
    "socketpair",
    "spawn_detached",
)
