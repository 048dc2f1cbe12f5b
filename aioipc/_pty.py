"""Pseudo-terminals: run a program on a pty and talk to it (perlipc's Comm.pl/Expect).

How the child gets its terminal
===============================

``os.openpty()`` gives a master and a slave.  Window size (``TIOCSWINSZ``) and echo
(``termios``) are set on the slave *before* the child starts, so the program never
runs with a wrong size or sees input echoed it asked not to, and nothing we write can
reach the terminal before it is set up (data written while a child still changes
its terminal modes can be lost or echoed wrongly).

The child must have the slave as its *controlling* terminal, or ``/dev/tty``,
Ctrl-C and job control do not work.  A process gets a controlling terminal when a
session leader without one opens a terminal without ``O_NOCTTY``; ``dup2`` of an fd
that is already open does not do it.  So the child is made with ``posix_spawn``
(``setsid=True``, and glibc runs ``setsid`` before the file actions) whose first file
action *opens* the slave by name onto fd 0, and then copies it to 1 and 2; no Python
runs in the child.  ``cwd=`` needs ``fork`` + ``exec`` (Python's ``posix_spawn`` cannot
change directory), which does the same steps by hand after resetting caught signals,
as :mod:`aioipc._spawn` does.  Either way the child's pid goes to the loop's child
watcher (:mod:`aioipc._children`) before we yield.

The master becomes a :class:`Terminal`, a :class:`aioipc.Stream` made by
:meth:`Stream.from_fd` with mode ``"rw"``: the loop sets ``O_NONBLOCK`` on the
master's open file description only (the slave, which the child shares, stays
blocking), and a read of ``EIO`` once the slave is closed everywhere is end of file.

Leaving ``async with`` closes the master: the kernel hangs the terminal up and sends
SIGHUP (then SIGCONT) to the child, which is the session leader.  A child that
survives that for ``grace`` seconds gets SIGTERM and SIGKILL (its whole session's
process group), and is always reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import signal
import struct
import termios
import tty
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import anyio

from ._children import Child, ExitStatus, run_to_completion, watch_child
from ._errors import ExpectEOF, ExpectTimeout
from ._expect import ExpectResult, Matcher, Pattern, compile_patterns
from ._framing import DEFAULT_LINE_LIMIT
from ._process import _check_grace, _check_timeout
from ._signals import SignalLike, on_signal
from ._spawn import _ALL_SIGNALS, _RESTORED_SIGNALS, Command, _exec_error, _Spec
from ._streams import Stream, StreamAttribute

__all__ = ["Terminal", "open_pty"]

# Signals a terminal program expects at their defaults whatever we ignore ourselves:
# SIG_IGN survives exec, and an ignored SIGINT would make Ctrl-C do nothing.
_TERMINAL_SIGNALS = tuple(
    sorted(
        {
            *_RESTORED_SIGNALS,
            signal.SIGINT,
            signal.SIGQUIT,
            signal.SIGHUP,
            signal.SIGTSTP,
            signal.SIGTTIN,
            signal.SIGTTOU,
            signal.SIGWINCH,
        }
    )
)
_DEFAULT_EXPECT_TIMEOUT = 30.0
_READ_SIZE = 65536


def _check_size(rows: object, cols: object) -> tuple[int, int]:
    for name, value in (("rows", rows), ("cols", cols)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 0xFFFF:
            raise ValueError(f"{name} must be an int from 1 to 65535, not {value!r}")
    assert isinstance(rows, int)
    assert isinstance(cols, int)
    return rows, cols


def _set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _get_size(fd: int) -> tuple[int, int]:
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return rows, cols


def _set_echo(fd: int, echo: bool) -> None:
    attrs = termios.tcgetattr(fd)
    lflag = attrs[3]
    if echo:
        lflag |= termios.ECHO | termios.ECHOE | termios.ECHOK
    else:
        lflag &= ~(termios.ECHO | termios.ECHOE | termios.ECHOK | termios.ECHONL)
    attrs[3] = lflag
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


# =============================================================================== spawning


def _spawn_on(spec: _Spec, slave_name: str) -> int:
    """Start the child as a session leader whose controlling terminal is the slave."""
    if spec.cwd is None:
        try:
            return os.posix_spawn(
                spec.executable,
                spec.args,
                spec.env,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, slave_name, os.O_RDWR, 0),
                    (os.POSIX_SPAWN_DUP2, 0, 1),
                    (os.POSIX_SPAWN_DUP2, 0, 2),
                ],
                setsid=True,
                setsigmask=(),
                setsigdef=_TERMINAL_SIGNALS,
            )
        except OSError as exc:
            raise _exec_error(exc.errno or errno.EIO, spec, "exec", exc.filename) from None
    return _fork_exec_on(spec, slave_name)


def _fork_exec_on(spec: _Spec, slave_name: str) -> int:
    """fork + exec, for ``cwd=``: the same steps as the posix_spawn path, by hand."""
    caught = [
        int(s) for s in _ALL_SIGNALS if callable(signal.getsignal(s)) or s in _TERMINAL_SIGNALS
    ]
    env = {os.fsencode(k): os.fsencode(v) for k, v in spec.env.items()}
    err_read, err_write = os.pipe2(os.O_CLOEXEC)
    # Blocked until the child let go of our wakeup fd and handlers (see _spawn).
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _ALL_SIGNALS)
    pid = -1
    try:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, which always execs or exits
            _exec_in_child(spec, slave_name, env, caught, err_write)
    except BaseException:
        if pid != 0:
            os.close(err_read)
            os.close(err_write)
        raise
    finally:
        if pid != 0:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    os.close(err_write)
    try:
        report = b""
        while chunk := os.read(err_read, 512):
            report += chunk
    finally:
        os.close(err_read)
    if report:
        os.waitpid(pid, 0)  # it exited at once after writing; reap it here
        step, _, code = report.decode("ascii", "replace").partition(":")
        raise _exec_error(
            int(code or errno.EIO), spec, step, spec.cwd if step == "chdir" else None
        )
    return pid


def _exec_in_child(  # pragma: no cover - runs in the forked child only
    spec: _Spec, slave_name: str, env: dict[bytes, bytes], caught: list[int], err_write: int
) -> None:
    step = "setup"
    try:
        with contextlib.suppress(ValueError):
            signal.set_wakeup_fd(-1)
        for signum in caught:
            signal.signal(signum, signal.SIG_DFL)
        step = "setsid"
        os.setsid()
        step = "open"
        fd = os.open(slave_name, os.O_RDWR)  # no O_NOCTTY: it becomes the ctty
        for target in (0, 1, 2):
            if fd != target:
                os.dup2(fd, target)
        if fd > 2:
            os.close(fd)
        step = "chdir"
        assert spec.cwd is not None
        os.chdir(spec.cwd)
        step = "exec"
        signal.pthread_sigmask(signal.SIG_SETMASK, ())
        os.execve(spec.executable, spec.args, env)
    except OSError as exc:
        with contextlib.suppress(BaseException):
            os.write(err_write, f"{step}:{exc.errno or errno.EIO}".encode())
    except BaseException:
        with contextlib.suppress(BaseException):
            os.write(err_write, f"{step}:{errno.EIO}".encode())
    finally:
        os._exit(127)


def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to our own terminal (a blocking fd we must not make
    non-blocking: O_NONBLOCK would change it for every process sharing it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# =============================================================================== Terminal


class Terminal(Stream):
    """The master side of a pty whose slave is a child's controlling terminal.

    A :class:`aioipc.Stream`: :meth:`send` types into the child, :meth:`receive`,
    :meth:`readline` and :meth:`lines` read what it prints (with ``\\r\\n`` line ends,
    which the line helpers accept), and :meth:`expect` waits for a pattern.  Get one
    from :func:`open_pty`.  All reading goes through one buffer, so ``expect`` and
    ``readline`` may be mixed freely.

    Attributes:
        argv: the command, as text.
        tty: the path of the slave (``/dev/pts/N``), what ``tty`` prints in the child.
    """

    def __init__(self, *, eol: bytes = b"\n") -> None:
        """Terminals are made by :func:`open_pty`."""
        super().__init__(eol=eol)
        self._matcher = Matcher()
        self._reading = False
        self._child: Child | None = None
        self._grace = 1.0
        self._term_closed = False
        self.argv: list[str] = []
        self.tty = ""

    def __repr__(self) -> str:
        return f"<aioipc Terminal {self.tty} pid={self.pid} argv={self.argv!r}>"

    @property
    def _the_child(self) -> Child:
        assert self._child is not None
        return self._child

    # ----------------------------------------------------------------- the child

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._the_child.pid

    @property
    def returncode(self) -> int | None:
        """The child's return code once it has ended (minus the signal), else None."""
        return self._the_child.returncode

    async def wait(self) -> ExitStatus:
        """Wait for the child to exit and return its :class:`aioipc.ExitStatus`.

        Output the child printed stays readable after it exits.

        Raises:
            ChildProcessError: someone else reaped the child.
        """
        return await self._the_child.wait()

    def send_signal(self, sig: SignalLike) -> bool:
        """Send ``sig`` to the child; False if it had already exited.

        Raises:
            TypeError, ValueError: ``sig`` is not a signal number or name.
        """
        return self._the_child.send_signal(sig)

    # ----------------------------------------------------------------- window size

    def _master_fd(self) -> int:
        if self._term_closed:
            raise anyio.ClosedResourceError
        fd = self.extra(StreamAttribute.fd)
        assert isinstance(fd, int)
        return fd

    def resize(self, rows: int, cols: int) -> None:
        """Set the terminal's window size; the kernel sends SIGWINCH to the child's
        foreground process group, as a terminal emulator's resize does.

        Raises:
            ValueError: ``rows`` or ``cols`` is not an int from 1 to 65535.
            anyio.ClosedResourceError: the terminal was closed.
        """
        rows, cols = _check_size(rows, cols)
        _set_size(self._master_fd(), rows, cols)

    def get_size(self) -> tuple[int, int]:
        """The terminal's window size as ``(rows, cols)``.

        Raises:
            anyio.ClosedResourceError: the terminal was closed.
        """
        return _get_size(self._master_fd())

    # ----------------------------------------------------------------- reading

    @contextlib.contextmanager
    def _reader(self) -> Any:
        if self._reading:
            raise anyio.BusyResourceError("reading from")
        self._reading = True
        try:
            yield
        finally:
            self._reading = False

    async def _read_more(self) -> bool:
        """Read one chunk into the buffer; False at end of output."""
        try:
            data = await super().receive(_READ_SIZE)
        except anyio.EndOfStream:
            return False
        self._matcher.feed(data)
        return True

    async def receive(self, max_bytes: int = 65536) -> bytes:
        """Return between 1 and ``max_bytes`` bytes of output, waiting if need be.

        Raises:
            ValueError: ``max_bytes`` is less than 1.
            anyio.EndOfStream: the child closed the terminal and all output was read.
            anyio.ClosedResourceError, anyio.BusyResourceError: as
                :meth:`aioipc.Stream.receive`.
        """
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, not {max_bytes}")
        with self._reader():
            buffer = self._matcher.buffer
            if buffer:
                return buffer.take(max_bytes)
            data = await super().receive(max_bytes)
            self._matcher.feed(data)
            return buffer.take(max_bytes)

    async def readline(self, *, limit: int = DEFAULT_LINE_LIMIT) -> bytes:
        """Return the next line of output without its ``\\r\\n`` (or ``\\n``).

        Raises:
            ValueError: ``limit`` is less than 1.
            aioipc.LineTooLong: the line exceeds ``limit`` bytes (they stay buffered).
            anyio.EndOfStream: no more lines.
            anyio.ClosedResourceError, anyio.BusyResourceError: as :meth:`receive`.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        with self._reader():
            buffer = self._matcher.buffer
            while True:
                line = buffer.take_line(limit)
                if line is not None:
                    return line
                if not await self._read_more():
                    last = buffer.take_last_line(limit)
                    if last is None:
                        raise anyio.EndOfStream
                    return last

    async def receive_exactly(self, count: int) -> bytes:
        """Return exactly ``count`` bytes of output.

        Raises:
            ValueError: ``count`` is negative.
            aioipc.IncompleteRead: output ended first; ``.partial`` has what came.
        """
        from ._errors import IncompleteRead

        if count < 0:
            raise ValueError(f"count must not be negative, not {count}")
        with self._reader():
            buffer = self._matcher.buffer
            while (data := buffer.take_exactly(count)) is None:
                if not await self._read_more():
                    raise IncompleteRead(buffer.take_all(), count)
            return data

    async def receive_until(self, delimiter: bytes, max_bytes: int) -> bytes:
        """Return the output before the next ``delimiter``, consuming the delimiter.

        Raises:
            ValueError: an empty delimiter or ``max_bytes`` below 1.
            aioipc.DelimiterNotFound: ``max_bytes`` bytes came without it.
            aioipc.IncompleteRead: output ended before the delimiter.
        """
        from ._errors import IncompleteRead

        if not delimiter:
            raise ValueError("delimiter must not be empty")
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, not {max_bytes}")
        with self._reader():
            buffer = self._matcher.buffer
            while (data := buffer.take_until(delimiter, max_bytes)) is None:
                if not await self._read_more():
                    raise IncompleteRead(
                        buffer.take_all(), None, awaited=f"the delimiter {delimiter!r}"
                    )
            return data

    # ----------------------------------------------------------------- expect

    async def expect(
        self,
        patterns: Pattern | Sequence[Pattern],
        *,
        timeout: float | None = _DEFAULT_EXPECT_TIMEOUT,
    ) -> ExpectResult:
        """Wait until the output matches one of ``patterns``; consume through the match.

        ``patterns`` is one pattern or a list: bytes or str (both regular expressions;
        str is UTF-8 encoded) or a compiled bytes regex.  The earliest match in the
        output wins (the first listed on a tie).  Returns an
        :class:`aioipc.ExpectResult` with ``index`` (which pattern), ``match``,
        ``before`` (the output before the match) and ``after`` (the matched bytes);
        output after the match stays buffered.

        Raises:
            TypeError, ValueError: a bad pattern (a compiled str regex, an empty
                pattern, a regex that does not compile), or a negative timeout.
            aioipc.ExpectTimeout: nothing matched within ``timeout`` seconds (None
                waits for ever); the message shows the last bytes read.
            aioipc.ExpectEOF: output ended first; the message shows the last bytes.
        """
        return await self._expect(compile_patterns(patterns, exact=False), timeout)

    async def expect_exact(
        self,
        patterns: str | bytes | Sequence[str | bytes],
        *,
        timeout: float | None = _DEFAULT_EXPECT_TIMEOUT,
    ) -> ExpectResult:
        """Like :meth:`expect`, but the patterns are literal text, not regexes.

        ``match`` in the result is None.

        Raises:
            TypeError, ValueError: a pattern that is not bytes or str, an empty one,
                or a negative timeout.
            aioipc.ExpectTimeout, aioipc.ExpectEOF: as :meth:`expect`.
        """
        return await self._expect(compile_patterns(patterns, exact=True), timeout)

    async def _expect(self, compiled: Any, timeout: float | None) -> ExpectResult:
        _check_timeout(timeout)
        matcher = self._matcher
        with self._reader():
            try:
                async with asyncio.timeout(timeout):
                    while (result := matcher.search(compiled)) is None:
                        if not await self._read_more():
                            raise ExpectEOF(
                                compiled.describe(), matcher.tail, before=matcher.take_rest()
                            )
            except TimeoutError as exc:
                if isinstance(exc, ExpectEOF | ExpectTimeout):
                    raise
                assert timeout is not None
                raise ExpectTimeout(
                    timeout, compiled.describe(), matcher.tail, partial=matcher.unmatched()
                ) from None
            return result

    # ----------------------------------------------------------------- interact

    async def interact(
        self, escape: bytes | None = b"\x1d", *, input_fd: int = 0, output_fd: int = 1
    ) -> bool:
        """Hand the child to the user: bridge our terminal and the child's, raw.

        Our terminal (``input_fd``, stdin by default) is put in raw mode, so every key
        (Ctrl-C too) goes to the child; what the child prints goes to ``output_fd``.
        The child's window follows ours: it is set from ours at the start and on every
        SIGWINCH we get.  It ends when the user types ``escape`` (Ctrl-] by default;
        None for no escape), when the child's output ends, or when our input ends.
        Our terminal settings are restored however it ends, exceptions and
        cancellation included.  Returns True if it ended by the escape character.

        Raises:
            ValueError: ``escape`` is not a single byte or None.
            OSError: ``input_fd`` is not a terminal (``ENOTTY``), so there is nothing
                to bridge; run the program from a terminal.
            anyio.ClosedResourceError, anyio.BusyResourceError: as :meth:`receive`.
        """
        if escape is not None and (not isinstance(escape, bytes) or len(escape) != 1):
            raise ValueError(f"escape must be a single byte or None, not {escape!r}")
        if not os.isatty(input_fd):
            raise OSError(
                errno.ENOTTY,
                f"interact() needs a terminal on fd {input_fd}, and it is not a tty "
                "(run the program from a terminal, not with its input redirected)",
            )
        saved = termios.tcgetattr(input_fd)
        loop = asyncio.get_running_loop()
        typed: asyncio.Queue[bytes] = asyncio.Queue()

        def on_input() -> None:
            try:
                data = os.read(input_fd, 4096)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                loop.remove_reader(input_fd)
            typed.put_nowait(data)

        def follow_size(signum: int = 0) -> None:
            with contextlib.suppress(OSError, anyio.ClosedResourceError):
                self.resize(*_get_size(input_fd))

        async def forward_input() -> bool:
            while data := await typed.get():
                if escape is not None and escape in data:
                    head = data[: data.index(escape)]
                    if head:
                        await self.send(head)
                    return True
                await self.send(data)
            return False

        async def forward_output() -> bool:
            while True:
                try:
                    data = await self.receive()
                except anyio.EndOfStream:
                    return False
                _write_all(output_fd, data)

        tasks: list[asyncio.Task[bool]] = []
        with on_signal(signal.SIGWINCH, follow_size):
            try:
                tty.setraw(input_fd, termios.TCSANOW)
                follow_size()
                loop.add_reader(input_fd, on_input)
                tasks = [
                    asyncio.ensure_future(forward_input()),
                    asyncio.ensure_future(forward_output()),
                ]
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                return any(task.result() for task in done)
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(BaseException):
                        await task
                loop.remove_reader(input_fd)
                termios.tcsetattr(input_fd, termios.TCSADRAIN, saved)

    # ----------------------------------------------------------------- closing

    async def aclose(self) -> None:
        """Hang up and reap: close the master (the child gets SIGHUP), give it
        ``grace`` seconds to exit, then SIGTERM and SIGKILL its process group, and
        reap it.  Idempotent; never leaves a zombie, even when cancelled.
        """
        await run_to_completion(self._hang_up())

    async def _hang_up(self) -> None:
        self._term_closed = True
        # Unsent input to a child that does not read must not hold the hangup up.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._grace):
                await super().aclose()
        await super().aclose()
        child = self._child
        if child is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._grace):
                await child.wait()
        await child.shutdown(0)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        """Leave ``async with``: :meth:`aclose`."""
        await self.aclose()


# =============================================================================== opening


class _PtyOpener:
    """``await open_pty(...)`` gives the Terminal; ``async with`` also hangs it up."""

    def __init__(self, start: Any) -> None:
        self._start = start
        self._term: Terminal | None = None

    def __await__(self) -> Any:
        return self._start().__await__()

    async def __aenter__(self) -> Terminal:
        if self._term is not None:
            raise RuntimeError("this opener has already been entered once")
        self._term = await self._start()
        return self._term

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._term is not None
        await self._term.aclose()


def open_pty(
    argv: Command,
    *,
    rows: int = 24,
    cols: int = 80,
    env: Mapping[str, str] | None = None,
    echo: bool = True,
    cwd: str | os.PathLike[str] | None = None,
    grace: float = 1.0,
) -> _PtyOpener:
    """Run ``argv`` on a new pseudo-terminal: ``async with open_pty(argv) as term``.

    The child is a session leader whose controlling terminal is the pty, with its
    stdin, stdout and stderr on it: ``isatty()`` is true, ``/dev/tty`` opens,
    ``\\x03`` typed into ``term`` is Ctrl-C (SIGINT), and the window is ``rows`` by
    ``cols`` from the first instruction.  ``echo=False`` turns terminal echo off
    before the child starts (what you type is not printed back).  ``argv`` is an
    argument list (no shell); ``env`` replaces its environment (None: inherit ours).
    The child's process group is orphaned (its parent is in another session), so the
    kernel discards ``\\x1a`` (SIGTSTP) and the other terminal stop signals sent to it;
    job control works for the jobs of a shell run on the pty.  Leaving the block hangs
    the terminal up (SIGHUP), waits up to ``grace`` seconds, then SIGTERMs and SIGKILLs
    and reaps the child.
    ``await open_pty(...)`` gives the :class:`Terminal` without the block; then close it
    with :meth:`Terminal.aclose`.

    Raises:
        TypeError: ``argv`` is not an argument list, or ``env`` not a mapping.
        ValueError: bad ``rows``, ``cols`` or ``grace``, or an empty command.
        FileNotFoundError, PermissionError: the program cannot be run (or ``cwd`` is
            not a directory); the message names the command.
        OSError: no pty could be allocated.
    """
    if isinstance(argv, str | bytes):
        raise TypeError(
            f"open_pty() takes an argument list, not a string: {argv!r} "
            "(write [program, arg, ...])"
        )
    rows, cols = _check_size(rows, cols)
    grace = _check_grace(grace)
    if not isinstance(echo, bool):
        raise TypeError(f"echo must be True or False, not {echo!r}")
    spec = _Spec(
        argv,
        shell=False,
        cwd=cwd,
        env=env,
        start_new_session=True,
        process_group=None,
        caller="open_pty",
    )

    async def start() -> Terminal:
        spec.resolve()
        master, slave = os.openpty()
        try:
            slave_name = os.ttyname(slave)
            _set_size(slave, rows, cols)
            _set_echo(slave, echo)
            pid = _spawn_on(spec, slave_name)
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        # The child has the slave open now (posix_spawn and our fork path return
        # after exec): our copy would only keep the terminal from hanging up.
        os.close(slave)
        try:
            child = watch_child(pid, own_group=True)
        except BaseException:
            os.close(master)
            with contextlib.suppress(ChildProcessError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)  # noqa: ASYNC222 - SIGKILLed: reaped at once
            raise
        try:
            term = await Terminal.from_fd(master, "rw", child_pid=pid)
        except BaseException:
            await child.shutdown(0)
            raise
        assert isinstance(term, Terminal)
        term._child = child
        term._grace = grace
        term.argv = spec.argv
        term.tty = slave_name
        return term

    return _PtyOpener(start)
