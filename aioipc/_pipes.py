"""Pipe opens and pipelines: pipe_from, pipe_to, open_pipeline, Pipeline.

perlipc's ``open(FH, "-|", ...)`` and ``open(FH, "|-", ...)``, and the shell's
``a | b | c`` without a shell, over the :class:`aioipc.Process` of
:mod:`aioipc._process`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Coroutine, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from ._children import Child, ExitStatus, run_to_completion
from ._errors import IPCTimeoutError, PipelineError
from ._process import (
    DEFAULT_GRACE,
    Process,
    _check_grace,
    _check_timeout,
    _close_bounded,
    _collect,
    _drain,
    _make_streams,
    _open,
    _Opener,
    _run_all,
)
from ._signals import SignalLike
from ._spawn import PIPE, Command, StdioArg, _check_stdio, _pipe, _Spec, _start, _Stdio
from ._streams import Stream

__all__ = ["Pipeline", "open_pipeline", "pipe_from", "pipe_to"]

T = TypeVar("T")


# =============================================================================== pipe opens


class _PipeOpen:
    """The context manager behind :func:`pipe_from` and :func:`pipe_to`."""

    def __init__(
        self,
        spec: _Spec,
        direction: str,
        other: StdioArg,
        stderr: StdioArg,
        check: bool,
        grace: float,
    ) -> None:
        self._spec = spec
        self._direction = direction
        self._other = other
        self._stderr = stderr
        self._check = check
        self._grace = grace
        self._process: Process | None = None

    async def __aenter__(self) -> Stream:
        if self._process is not None:
            raise RuntimeError("a pipe_from()/pipe_to() can be entered only once")
        if self._direction == "from":
            process = await _open(
                self._spec, self._other, PIPE, self._stderr, check=False, grace=self._grace
            )
            stream = process.stdout
        else:
            process = await _open(
                self._spec, PIPE, self._other, self._stderr, check=False, grace=self._grace
            )
            stream = process.stdin
        self._process = process
        assert stream is not None
        return stream

    @property
    def process(self) -> Process:
        """The :class:`Process` behind the stream (after the block was entered)."""
        if self._process is None:
            raise RuntimeError("the command has not been started yet: enter the block first")
        return self._process

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process = self._process
        assert process is not None
        if exc is not None:
            await process._abort()
            return
        status = await process._finish()
        if self._check and process._failed(status):
            raise process._error(status)


def pipe_from(
    command: Command,
    *,
    stdin: StdioArg = None,
    stderr: StdioArg = None,
    check: bool = True,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    shell: bool = False,
    start_new_session: bool = False,
    process_group: int | None = None,
    grace: float = DEFAULT_GRACE,
) -> _PipeOpen:
    """Read a command's output: perlipc's ``open(FH, "-|", "cmd", @args)``.

    ``async with aioipc.pipe_from(["ps", "-e"]) as out:`` gives a :class:`aioipc.Stream`
    on the command's stdout (``async for line in out.lines()``).  Leaving the block
    closes the stream and waits for the command, then checks its exit status, as
    Perl's ``close`` does.  Leaving the block before the end of the output is fine: a
    command killed by SIGPIPE because we stopped reading is not an error.

    Args:
        command, cwd, env, shell, start_new_session, process_group, grace: as
            :func:`open_process`.
        stdin, stderr: the command's other streams: None (ours), DEVNULL, a file or
            an fd (to pipe them too, use :func:`open_process`).
        check: raise :class:`aioipc.ProcessError` when the command fails.

    Raises:
        aioipc.ProcessError: (leaving the block) ``check`` and a non-zero status.
        TypeError, ValueError: as :func:`open_process` (raised by this call);
            ValueError also for ``stderr=PIPE``.
        FileNotFoundError, PermissionError: (entering the block) as
            :func:`open_process`.
    """
    spec = _Spec(
        command,
        shell=shell,
        cwd=cwd,
        env=env,
        start_new_session=start_new_session,
        process_group=process_group,
        caller="pipe_from",
    )
    _check_stdio(stdin, None, stderr)
    if stdin == PIPE or stderr == PIPE:
        raise ValueError(
            "pipe_from() pipes stdout only; use open_process() to pipe stdin or stderr too"
        )
    return _PipeOpen(spec, "from", stdin, stderr, check, _check_grace(grace))


def pipe_to(
    command: Command,
    *,
    stdout: StdioArg = None,
    stderr: StdioArg = None,
    check: bool = True,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    shell: bool = False,
    start_new_session: bool = False,
    process_group: int | None = None,
    grace: float = DEFAULT_GRACE,
) -> _PipeOpen:
    """Write to a command's input: perlipc's ``open(FH, "|-", "cmd", @args)``.

    ``async with aioipc.pipe_to(["lpr"]) as inp:`` gives a :class:`aioipc.Stream` on
    the command's stdin.  Leaving the block closes it (the command sees EOF), waits
    for the command and checks its exit status.  Writing to a command that has died
    or closed its input raises :class:`aioipc.BrokenPipe` naming the command and how
    it ended -- perlipc's ``|bogus`` case, without a SIGPIPE.

    Args:
        command, cwd, env, shell, start_new_session, process_group, grace: as
            :func:`open_process`.
        stdout, stderr: where the command's output goes (default: ours).
        check: raise :class:`aioipc.ProcessError` when the command fails.

    Raises:
        aioipc.BrokenPipe: (from ``send``) the command is not reading any more.
        aioipc.ProcessError: (leaving the block) ``check`` and a non-zero status.
        TypeError, ValueError: as :func:`open_process` (raised by this call).
        FileNotFoundError, PermissionError: (entering the block) as
            :func:`open_process`.
    """
    spec = _Spec(
        command,
        shell=shell,
        cwd=cwd,
        env=env,
        start_new_session=start_new_session,
        process_group=process_group,
        caller="pipe_to",
    )
    _check_stdio(None, stdout, stderr)
    if stdout == PIPE or stderr == PIPE:
        raise ValueError(
            "pipe_to() pipes stdin only; use open_process() to pipe stdout or stderr too"
        )
    return _PipeOpen(spec, "to", stdout, stderr, check, _check_grace(grace))


# =============================================================================== pipelines


class Pipeline:
    """Commands joined stdout-to-stdin by kernel pipes, from :func:`open_pipeline`.

    The bytes between stages never pass through Python.  ``stdin`` is the first
    stage's input and ``stdout`` the last stage's output, when piped.  Leaving the
    block normally closes them and waits for every stage, then (with ``check``)
    raises :class:`aioipc.PipelineError` naming each failed stage; leaving by an error
    or a cancellation stops and reaps every stage.

    Attributes:
        processes: one :class:`Process` per stage, in order.
        stdin: a stream to the first stage's stdin, or None.
        stdout: a stream from the last stage's stdout, or None.
    """

    def __init__(self, processes: Sequence[Process], *, check: bool) -> None:
        """Pipelines are made by :func:`open_pipeline`."""
        self.processes = tuple(processes)
        self.stdin = self.processes[0].stdin
        self.stdout = self.processes[-1].stdout
        self._check = check
        self._closed = False

    @property
    def returncodes(self) -> list[int | None]:
        """Each stage's returncode (None while it runs)."""
        return [p.returncode for p in self.processes]

    def __repr__(self) -> str:
        stages = " | ".join(" ".join(p.argv) for p in self.processes)
        return f"<aioipc.Pipeline {stages!r} returncodes={self.returncodes}>"

    async def wait(self) -> list[ExitStatus]:
        """Wait for every stage to end; return their statuses in stage order.

        Raises:
            ChildProcessError: someone else reaped a stage.
        """
        return list(await asyncio.gather(*(p.wait() for p in self.processes)))

    def send_signal(self, sig: SignalLike) -> list[bool]:
        """Send ``sig`` to every stage; for each, False if it had already exited.

        Raises:
            TypeError, ValueError: not a signal.
            PermissionError: not allowed to signal a stage.
        """
        return [p.send_signal(sig) for p in self.processes]

    def terminate(self) -> list[bool]:
        """Send SIGTERM to every stage (see :meth:`send_signal`)."""
        return self.send_signal(signal.SIGTERM)

    def kill(self) -> list[bool]:
        """Send SIGKILL to every stage (see :meth:`send_signal`)."""
        return self.send_signal(signal.SIGKILL)

    async def communicate(
        self, input: bytes | None = None, *, timeout: float | None = None
    ) -> bytes:
        """Feed ``input`` to the first stage, read the last stage's output, wait for all.

        Raises:
            ValueError: ``input`` given but the pipeline's stdin is not a pipe.
            aioipc.IPCTimeoutError: the timeout expired: every stage was stopped and
                reaped; ``partial`` holds the output read so far.
        """
        first, last = self.processes[0], self.processes[-1]
        if input is not None and first.stdin is None:
            raise ValueError("communicate(input=...) needs open_pipeline(..., stdin=PIPE)")
        _check_timeout(timeout)
        out = bytearray()
        deadline = asyncio.timeout(timeout)
        loop = asyncio.get_running_loop()
        tasks: list[asyncio.Task[Any]] = []
        try:
            async with deadline:
                if first.stdin is not None:
                    tasks.append(loop.create_task(first._feed(first.stdin, input)))
                if last.stdout is not None:
                    reader = loop.create_task(_collect(last.stdout, out))
                    tasks.append(reader)
                    tasks.append(loop.create_task(last._eof_watchdog([(reader, out)])))
                tasks.append(loop.create_task(self.wait()))
                await _run_all(tasks)
        except TimeoutError:
            if not deadline.expired():
                raise
            statuses = await self._stop_all()
            if last.stdout is not None:
                await _drain([(last.stdout, out)])
            stages = "; ".join(
                f"{p.argv!r} {s}" for p, s in zip(self.processes, statuses, strict=True)
            )
            raise IPCTimeoutError(
                f"pipeline did not finish within {timeout} s and was stopped: {stages}",
                partial=bytes(out),
            ) from None
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks)
        last._stdout_data = bytes(out)
        return bytes(out)

    async def _stop_all(self) -> list[ExitStatus]:
        async def stop(process: Process) -> ExitStatus:
            try:
                return await process._child.shutdown(process._grace)
            except ChildProcessError:
                return ExitStatus(code=255)

        return list(await run_to_completion(_gather(*(stop(p) for p in self.processes))))

    def _failures(self, statuses: list[ExitStatus]) -> list[tuple[int, list[str], int, int]]:
        failures = []
        for index, (process, status) in enumerate(zip(self.processes, statuses, strict=True)):
            if status.success:
                continue
            if status.signal == signal.SIGPIPE and (
                process._cut_output or any(s.success for s in statuses[index + 1 :])
            ):
                # Told that nobody reads any more (yes | head -1): not a failure.
                continue
            failures.append((index + 1, process.argv, status.returncode, process.pid))
        return failures

    async def aclose(self) -> None:
        """Close the pipeline's pipes and wait for every stage (idempotent).

        Raises:
            aioipc.PipelineError: opened with ``check=True`` and a stage failed (a
                stage killed by SIGPIPE because a later stage or we stopped reading
                does not count).
        """
        if not self._closed:
            self._closed = True
            try:
                first, last = self.processes[0], self.processes[-1]
                if first.stdin is not None:
                    await first.stdin.aclose()
                if last.stdout is not None:
                    if last.status is None:
                        last._cut_output = True
                    await last.stdout.aclose()
            except BaseException:
                await self._abort()
                raise
        statuses = await self.wait()
        if self._check:
            failures = self._failures(statuses)
            if failures:
                raise PipelineError(
                    failures, length=len(self.processes), stdout=self.processes[-1]._stdout_data
                )

    async def _abort(self) -> None:
        self._closed = True

        async def stop() -> None:
            await self._stop_all()
            for process in self.processes:
                for stream in (process.stdin, process.stdout, process.stderr):
                    await _close_bounded(stream)

        await run_to_completion(stop())

    async def __aenter__(self) -> Pipeline:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            await self.aclose()
        else:
            await self._abort()


async def _gather(*coros: Coroutine[Any, Any, T]) -> list[T]:
    return list(await asyncio.gather(*coros))


def open_pipeline(
    *commands: Command,
    stdin: StdioArg = None,
    stdout: StdioArg = None,
    stderr: StdioArg = None,
    check: bool = True,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    grace: float = DEFAULT_GRACE,
) -> _Opener[Pipeline]:
    """Run commands joined by pipes, like the shell's ``a | b | c`` without a shell.

    perlipc's spooler ``open(SPOOLER, "| cat -v | lpr -h")`` is::

        async with aioipc.open_pipeline(["cat", "-v"], ["lpr", "-h"], stdin=PIPE) as p:
            await p.stdin.send(b"stuff\\n")

    Each stage's stdout is joined to the next stage's stdin by a kernel pipe, so the
    bytes between stages never pass through Python.  Every executable is looked up
    before the first stage starts.

    Args:
        commands: two or more argument lists (one is allowed too).
        stdin: the first stage's stdin: None (ours), PIPE, DEVNULL, a file or an fd.
        stdout: the last stage's stdout, likewise.
        stderr: every stage's stderr: None (ours), DEVNULL, a file or an fd.
        check: when the block is left normally, raise :class:`aioipc.PipelineError`
            if any stage failed (pipefail).  A stage killed by SIGPIPE because a later
            stage exited successfully (``yes | head -1``) has not failed.
        cwd, env, grace: as :func:`open_process`, for every stage.

    Raises:
        aioipc.PipelineError: (leaving the block) ``check`` and a failed stage; the
            message names every failed stage, its position and how it ended.
        TypeError, ValueError: a command is a string (no shell here: use
            ``run_process(..., shell=True)``), no command at all, or a bad stdio value
            (``stderr=PIPE`` is refused: one pipe per stage that nobody reads).
        FileNotFoundError, PermissionError: a program is missing or not executable;
            nothing was started.
    """
    if not commands:
        raise ValueError("open_pipeline() needs at least one command")
    specs = [
        _Spec(
            command,
            shell=False,
            cwd=cwd,
            env=env,
            start_new_session=False,
            process_group=None,
            caller="open_pipeline",
        )
        for command in commands
    ]
    _check_stdio(stdin, stdout, stderr)
    if stderr == PIPE:
        raise ValueError(
            "open_pipeline() does not pipe stderr (each stage would need a reader); "
            "pass a file, DEVNULL, or None to share ours"
        )
    grace = _check_grace(grace)

    async def start() -> Pipeline:
        return await _open_pipeline(specs, stdin, stdout, stderr, check=check, grace=grace)

    return _Opener(start)


async def _open_pipeline(
    specs: list[_Spec],
    stdin: StdioArg,
    stdout: StdioArg,
    stderr: StdioArg,
    *,
    check: bool,
    grace: float,
) -> Pipeline:
    for spec in specs:
        spec.resolve()  # a missing program fails before anything starts
    processes: list[Process] = []
    children: list[Child] = []
    plans: list[_Stdio] = []
    next_stdin: int | None = None
    try:
        for index, spec in enumerate(specs):
            last = index == len(specs) - 1
            stdio = _Stdio()
            plans.append(stdio)
            if index == 0:
                stdio.set(0, stdin, "stdin")
            else:
                assert next_stdin is not None
                stdio.child[0] = next_stdin
                stdio.after_spawn.append(next_stdin)
                next_stdin = None
            if last:
                stdio.set(1, stdout, "stdout")
            else:
                read_fd, write_fd = _pipe()
                next_stdin = read_fd
                stdio.child[1] = write_fd
                stdio.after_spawn.append(write_fd)
            stdio.set(2, stderr, "stderr")
            children.append(await _start(spec, stdio))
        for spec, child, stdio in zip(specs, children, plans, strict=True):
            in_s, out_s, err_s = await _make_streams(child, stdio)
            processes.append(
                Process(child, spec.argv, stdin=in_s, stdout=out_s, stderr=err_s, grace=grace)
            )
    except BaseException:
        if next_stdin is not None:
            os.close(next_stdin)
        for stdio in plans:
            stdio.close_all()

        async def stop() -> None:
            for child in children:
                with contextlib.suppress(ChildProcessError):
                    await child.shutdown(0)
            for process in processes:
                for stream in (process.stdin, process.stdout, process.stderr):
                    await _close_bounded(stream)

        await run_to_completion(stop())
        raise
    return Pipeline(processes, check=check)
