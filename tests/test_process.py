"""Commands: run_process, open_process, pipe_from, pipe_to, open_pipeline.

Every child is a real program (coreutils, /bin/sh, perl); every async test runs on
asyncio and on uvloop (conftest), whose leak fixture fails a test that leaves a zombie,
a running child or an fd behind -- including the cancelled ones.  Children that must
be ready before the test acts print READY first; nothing here sleeps to synchronise or
asserts a duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest
import uvloop

import aioipc
from aioipc import (
    DEVNULL,
    PIPE,
    STDOUT,
    BrokenPipe,
    CompletedProcess,
    ExitStatus,
    IPCTimeoutError,
    PipelineError,
    ProcessError,
)
from aioipc._children import _sigchld_fallback

PERL = "/usr/bin/perl"
#: A child that ignores SIGTERM, then says so.
STUBBORN = [PERL, "-e", '$SIG{TERM} = "IGNORE"; $| = 1; print "READY\\n"; sleep 100']


def sig_mask(status_text: str, field: str) -> int:
    """A signal mask field (SigIgn, SigBlk) of a /proc/<pid>/status text."""
    for line in status_text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no {field} in {status_text!r}")


async def send_until_broken(stream: aioipc.Stream, data: bytes = b"x") -> None:
    """Write until the stream reports its reader gone (it must, once the reader is)."""
    while True:
        await stream.send(data)
        await asyncio.sleep(0)  # let the loop notice a hang-up


# ------------------------------------------------------------------- run_process


async def test_run_process_captures_output() -> None:
    result = await aioipc.run_process(["sh", "-c", "echo out; echo err >&2"])
    assert isinstance(result, CompletedProcess)
    assert isinstance(result, subprocess.CompletedProcess)
    assert (result.stdout, result.stderr) == (b"out\n", b"err\n")
    assert result.returncode == 0
    assert result.status == ExitStatus(code=0)
    assert result.args == ["sh", "-c", "echo out; echo err >&2"]


async def test_run_process_check_raises_with_argv_status_and_stderr_tail() -> None:
    with pytest.raises(ProcessError) as caught:
        await aioipc.run_process(["sh", "-c", "echo partial; echo 'it broke' >&2; exit 3"])
    error = caught.value
    assert isinstance(error, subprocess.CalledProcessError)
    assert error.argv == ["sh", "-c", "echo partial; echo 'it broke' >&2; exit 3"]
    assert error.returncode == 3
    assert error.pid is not None
    assert (error.stdout, error.stderr) == (b"partial\n", b"it broke\n")
    assert "exited with status 3" in str(error)
    assert str(error).endswith("stderr ends with:\nit broke")


async def test_run_process_without_check_reports_a_signal() -> None:
    result = await aioipc.run_process([PERL, "-e", "kill KILL => $$"], check=False)
    assert result.returncode == -signal.SIGKILL
    assert str(result.status) == "killed by SIGKILL"
    with pytest.raises(ProcessError, match="was killed by SIGKILL"):
        result.check_returncode()


async def test_input_and_stdio_choices(tmp_path: Path) -> None:
    assert (await aioipc.run_process(["cat"], input=b"fed\n")).stdout == b"fed\n"
    assert (await aioipc.run_process(["cat"], stdin=DEVNULL)).stdout == b""
    merged = await aioipc.run_process(["sh", "-c", "echo a; echo b >&2"], stderr=STDOUT)
    assert (merged.stdout, merged.stderr) == (b"a\nb\n", b"")
    target = tmp_path / "out.txt"
    with target.open("wb") as file:
        result = await aioipc.run_process(["echo", "to a file"], stdout=file)
    assert result.stdout == b""
    assert target.read_bytes() == b"to a file\n"
    silent = await aioipc.run_process(["echo", "gone"], stdout=DEVNULL)
    assert silent.stdout == b""


async def test_cwd_and_env(tmp_path: Path) -> None:
    result = await aioipc.run_process(
        ["sh", "-c", 'pwd; echo "$GREETING"'],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "GREETING": "bonjour"},
    )
    assert result.stdout == f"{tmp_path}\nbonjour\n".encode()


async def test_a_relative_program_path_is_found_relative_to_cwd(tmp_path: Path) -> None:
    script = tmp_path / "hello.sh"
    script.write_text("#!/bin/sh\necho hello from $0\n")
    script.chmod(0o755)
    result = await aioipc.run_process(["./hello.sh"], cwd=tmp_path)
    assert result.stdout == b"hello from ./hello.sh\n"  # exec'd after the chdir, as given


@pytest.mark.parametrize("where", ["posix_spawn", "fork_exec"])
async def test_children_get_default_sigpipe_and_an_empty_signal_mask(
    where: str, tmp_path: Path
) -> None:
    # CPython ignores SIGPIPE and SIGXFSZ; SIG_IGN would survive exec.  cwd= takes the
    # fork + exec path, the rest posix_spawn.
    cwd = tmp_path if where == "fork_exec" else None
    result = await aioipc.run_process(["cat", "/proc/self/status"], cwd=cwd)
    text = result.stdout.decode()
    ignored = sig_mask(text, "SigIgn")
    assert not ignored & (1 << (signal.SIGPIPE - 1))
    assert not ignored & (1 << (signal.SIGXFSZ - 1))
    assert sig_mask(text, "SigBlk") == 0


async def test_run_process_timeout_stops_the_whole_group() -> None:
    # The shell ignores SIGTERM and so does its grandchild, which holds our stderr pipe
    # open: the run ends, the group is SIGKILLed after the grace, and EOF on that pipe
    # proves the grandchild is gone too.
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    script = "trap '' TERM; perl -e '$SIG{TERM} = q(IGNORE); sleep 100' & echo READY; wait; wait"
    try:
        with pytest.raises(IPCTimeoutError) as caught:
            await aioipc.run_process(
                ["sh", "-c", script],
                stderr=write_fd,
                start_new_session=True,
                timeout=0.5,
                grace=0.2,
            )
    finally:
        os.close(write_fd)
    error = caught.value
    assert isinstance(error, TimeoutError)
    assert b"READY\n".startswith(error.partial)  # what came before time ran out
    assert "did not finish within 0.5 s" in str(error)
    reader = await aioipc.Stream.from_pipe_fds(read_fd=read_fd)
    async with reader:
        with pytest.raises(anyio.EndOfStream):
            await reader.receive()


async def test_timeout_kills_a_child_that_ignores_sigterm_and_keeps_its_output() -> None:
    async with aioipc.open_process(
        [PERL, "-e", '$SIG{TERM} = "IGNORE"; $| = 1; print "READY\\nmore\\n"; sleep 100'],
        stdout=PIPE,
        grace=0.2,
    ) as proc:
        assert proc.stdout is not None
        assert await proc.stdout.readline() == b"READY"
        with pytest.raises(IPCTimeoutError) as caught:
            await proc.communicate(timeout=0.1)
        assert proc.status == ExitStatus(signal=signal.SIGKILL)
        assert caught.value.partial == b"more\n"
        assert "killed by SIGKILL" in str(caught.value)


async def test_output_is_not_awaited_forever_when_a_grandchild_holds_the_pipe() -> None:
    # sh exits at once; the background sleep keeps stdout open (cpython#119710).
    result = await aioipc.run_process(["sh", "-c", "sleep 60 & echo hi"], start_new_session=True)
    try:
        assert result.stdout == b"hi\n"
        assert result.returncode == 0
    finally:
        aioipc.kill_group(result.pid, "KILL")


async def test_sixty_four_mebibytes_both_ways_without_deadlock() -> None:
    data = os.urandom(64 * 1024 * 1024)
    result = await aioipc.run_process(["cat"], input=data)
    assert len(result.stdout) == len(data)
    assert result.stdout == data


async def test_stdout_and_stderr_both_full_while_stdin_is_fed() -> None:
    # perl echoes each input line to stdout and stderr: every pipe fills up at once.
    data = b"".join(b"%08d\n" % i for i in range(200_000))
    result = await aioipc.run_process([PERL, "-ne", "print; print STDERR $_"], input=data)
    assert result.stdout == data
    assert result.stderr == data


async def test_many_concurrent_runs_under_the_sigchld_fallback() -> None:
    with _sigchld_fallback():
        results = await asyncio.gather(
            *(aioipc.run_process(["sh", "-c", f"exit {i % 3}"], check=False) for i in range(40))
        )
    assert [r.returncode for r in results] == [i % 3 for i in range(40)]


@pytest.mark.parametrize("mode", ["pidfd", "sigchld"])
async def test_the_loops_own_subprocesses_keep_their_exit_status(mode: str) -> None:
    # aioipc never waitpid(-1)s, so asyncio's (or uvloop's) child watcher still gets
    # its children's real status, not "Unknown child process pid" and 255.
    if mode == "sigchld" and isinstance(asyncio.get_running_loop(), uvloop.Loop):
        pytest.skip("libuv takes SIGCHLD from the fallback when uvloop spawns (documented)")
    with _sigchld_fallback() if mode == "sigchld" else contextlib.nullcontext():

        async def theirs(code: int) -> int:
            proc = await asyncio.create_subprocess_exec("sh", "-c", f"exit {code}")
            return await proc.wait()

        async def ours(code: int) -> int:
            result = await aioipc.run_process(["sh", "-c", f"exit {code}"], check=False)
            return result.returncode

        results = await asyncio.gather(*(theirs(c) for c in (3, 4, 5)), *(ours(c) for c in (6, 7)))
    assert results == [3, 4, 5, 6, 7]


async def test_cancelling_run_process_kills_and_reaps() -> None:
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    reader = await aioipc.Stream.from_pipe_fds(read_fd=read_fd)
    async with reader:
        try:
            task = asyncio.ensure_future(
                aioipc.run_process(["sh", "-c", "echo READY >&2; exec sleep 100"], stderr=write_fd)
            )
            assert await reader.readline() == b"READY"
        finally:
            os.close(write_fd)  # the child has its copy now
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(anyio.EndOfStream):
            await reader.receive()  # sleep is gone: it held the pipe's write end


# ------------------------------------------------------------------- arguments


async def test_a_string_command_without_shell_is_refused_with_the_reason() -> None:
    for opener in (
        aioipc.run_process,
        aioipc.open_process,
        aioipc.pipe_from,
        aioipc.pipe_to,
        aioipc.open_pipeline,
    ):
        with pytest.raises(TypeError, match=r"\['ls', '-l'\].*shell=True") as caught:
            await _call(opener, "ls -l")
        assert opener.__name__ in str(caught.value)


async def _call(opener: Any, *args: Any) -> None:
    result = opener(*args)
    if asyncio.iscoroutine(result):
        await result


async def test_shell_true_runs_bin_sh() -> None:
    result = await aioipc.run_process("echo $((6 * 7)) $0", shell=True)
    assert result.stdout == b"42 /bin/sh\n"
    assert result.args == ["/bin/sh", "-c", "echo $((6 * 7)) $0"]
    with pytest.raises(TypeError, match="one string"):
        await aioipc.run_process(["echo", "hi"], shell=True)


async def test_a_missing_program_is_named_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no program 'no-such-program-x' on PATH"):
        await aioipc.run_process(["no-such-program-x", "arg"])
    with pytest.raises(FileNotFoundError, match="no such file '/nonexistent/prog'"):
        await aioipc.run_process(["/nonexistent/prog"])
    with pytest.raises(FileNotFoundError, match="no-such-program-x"):
        async with aioipc.pipe_to(["no-such-program-x"]):
            pass
    with pytest.raises(FileNotFoundError, match="no-such-program-x"):
        async with aioipc.pipe_from(["no-such-program-x"]):
            pass
    with pytest.raises(FileNotFoundError, match="no-such-program-x"):
        async with aioipc.open_pipeline(["cat"], ["no-such-program-x"], stdin=PIPE):
            pass
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        await aioipc.run_process(["true"], cwd=tmp_path / "missing")
    plain = tmp_path / "plain.txt"
    plain.write_text("not a program")
    with pytest.raises(PermissionError, match="not an executable file"):
        await aioipc.run_process([str(plain)])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"stdin": STDOUT}, ValueError, "only makes sense for stderr"),
        ({"stdout": -7}, ValueError, "fd >= 0"),
        ({"stdin": "file"}, TypeError, "PIPE, DEVNULL"),
        ({"grace": -1}, ValueError, "grace"),
        ({"process_group": -2}, ValueError, "process_group"),
        ({"start_new_session": True, "process_group": 0}, ValueError, "already"),
        ({"env": ["PATH=/bin"]}, TypeError, "mapping"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        aioipc.open_process(["true"], **kwargs)  # type: ignore[arg-type]


async def test_other_bad_arguments() -> None:
    with pytest.raises(ValueError, match="empty command"):
        aioipc.open_process([])
    with pytest.raises(ValueError, match="not both"):
        await aioipc.run_process(["cat"], input=b"x", stdin=DEVNULL)
    with pytest.raises(ValueError, match="timeout"):
        await aioipc.run_process(["true"], timeout=-1)
    with pytest.raises(ValueError, match="pipes stdout only"):
        aioipc.pipe_from(["true"], stderr=PIPE)
    with pytest.raises(ValueError, match="pipes stdin only"):
        aioipc.pipe_to(["true"], stdout=PIPE)
    with pytest.raises(ValueError, match="does not pipe stderr"):
        aioipc.open_pipeline(["true"], ["true"], stderr=PIPE)
    with pytest.raises(ValueError, match="at least one command"):
        aioipc.open_pipeline()


# ------------------------------------------------------------------- open_process


async def test_open2_cat_u_n_line_by_line() -> None:
    # perlipc: $pid = open2(*Reader, *Writer, "cat -u -n")
    async with aioipc.open_process(["cat", "-u", "-n"], stdin=PIPE, stdout=PIPE) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        for number, word in enumerate(["stuff", "more stuff"], start=1):
            await proc.stdin.send_line(word)
            assert await proc.stdout.readline() == f"{number:6}\t{word}".encode()
    assert proc.status == ExitStatus(code=0)


async def test_leaving_the_block_closes_stdin_and_waits() -> None:
    async with aioipc.open_process(["wc", "-c"], stdin=PIPE) as proc:
        assert proc.stdin is not None
        await proc.stdin.send(b"12345")
        assert proc.returncode is None
    assert proc.returncode == 0


async def test_await_open_process_then_aclose() -> None:
    proc = await aioipc.open_process(["sh", "-c", "exit 5"], check=True)
    assert proc.pid > 0
    assert (await proc.wait()).code == 5
    with pytest.raises(ProcessError, match="exited with status 5"):
        await proc.aclose()
    assert proc.send_signal(signal.SIGTERM) is False
    assert proc.terminate() is False
    assert proc.kill() is False


async def test_check_true_raises_when_the_block_ends() -> None:
    with pytest.raises(ProcessError) as caught:
        async with aioipc.open_process(
            ["sh", "-c", "echo oops >&2; exit 2"], stderr=PIPE, check=True
        ) as proc:
            await proc.communicate()
    assert caught.value.returncode == 2
    assert caught.value.stderr == b"oops\n"


async def test_an_error_in_the_block_terminates_the_child() -> None:
    with pytest.raises(ZeroDivisionError):
        async with aioipc.open_process(["sleep", "100"]) as proc:
            1 / 0  # noqa: B018
    assert proc.status == ExitStatus(signal=signal.SIGTERM)


async def test_cancellation_kills_a_stubborn_child_after_the_grace() -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[aioipc.Process] = loop.create_future()

    async def runner() -> None:
        async with aioipc.open_process(STUBBORN, stdout=PIPE, grace=0.2) as proc:
            assert proc.stdout is not None
            assert await proc.stdout.readline() == b"READY"  # SIGTERM is ignored now
            ready.set_result(proc)
            await proc.wait()

    task = asyncio.ensure_future(runner())
    proc = await ready
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert proc.status == ExitStatus(signal=signal.SIGKILL)


async def test_communicate_after_the_child_stops_reading_drops_the_rest() -> None:
    async with aioipc.open_process(["head", "-c", "10"], stdin=PIPE, stdout=PIPE) as proc:
        out, err = await proc.communicate(b"x" * (4 * 1024 * 1024))
    assert (out, err) == (b"x" * 10, b"")
    assert proc.returncode == 0


async def test_a_reader_sees_eof_while_another_child_exists(tmp_path: Path) -> None:
    # perlipc, "Avoiding Pipe Deadlocks": the second child must not hold the first
    # child's stdin open.  Its cwd= takes the fork + exec path.
    async with (
        aioipc.open_process(["cat"], stdin=PIPE, stdout=PIPE) as reader,
        aioipc.open_process(["sleep", "100"], cwd=tmp_path) as other,
    ):
        assert reader.stdin is not None
        assert reader.stdout is not None
        await reader.stdin.send(b"last words\n")
        await reader.stdin.aclose()
        assert await reader.stdout.readline() == b"last words"
        assert (await reader.wait()).code == 0
        other.terminate()


async def test_a_child_in_its_own_group_is_stopped_with_the_group() -> None:
    # The child exits on SIGTERM; its grandchild ignores it and holds our pipe, whose EOF
    # proves that the SIGKILL sent to the group after the grace period reached it.
    script = "trap 'exit 0' TERM; perl -e '$SIG{TERM} = q(IGNORE); sleep 100' & echo READY; wait"
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    started: list[aioipc.Process] = []

    async def leave_by_error() -> None:
        async with aioipc.open_process(
            ["sh", "-c", script], stdout=PIPE, stderr=write_fd, process_group=0, grace=0.2
        ) as proc:
            started.append(proc)
            assert proc.stdout is not None
            assert await proc.stdout.readline() == b"READY"
            raise KeyError("leave the block")

    try:
        with pytest.raises(KeyError):
            await leave_by_error()
    finally:
        os.close(write_fd)
    assert started[0].status == ExitStatus(code=0)
    reader = await aioipc.Stream.from_pipe_fds(read_fd=read_fd)
    async with reader:
        with pytest.raises(anyio.EndOfStream):
            await reader.receive()


# ------------------------------------------------------------------- pipe_from / pipe_to


async def test_pipe_from_reads_lines_and_checks_on_close() -> None:
    async with aioipc.pipe_from(["printf", "tcp 1\\nunix 2\\ntcp 3\\n"]) as out:
        lines = [line async for line in out.lines()]
    assert lines == [b"tcp 1", b"unix 2", b"tcp 3"]
    with pytest.raises(ProcessError, match="exited with status 2"):
        async with aioipc.pipe_from(["sh", "-c", "echo some; exit 2"]) as out:
            assert await out.readline() == b"some"


async def test_pipe_opens_expose_their_process() -> None:
    opener = aioipc.pipe_from(["echo", "hi"])
    with pytest.raises(RuntimeError, match="not been started"):
        _ = opener.process
    async with opener as out:
        assert opener.process.pid == out.extra(aioipc.StreamAttribute.child_pid)
        assert await out.readline() == b"hi"
    assert opener.process.returncode == 0


async def test_pipe_from_may_stop_reading_early() -> None:
    # yes dies of SIGPIPE when we close: our doing, not a failure.
    async with aioipc.pipe_from(["yes"]) as out:
        assert await out.readline() == b"y"


async def test_pipe_to_writes_and_checks_on_close(tmp_path: Path) -> None:
    target = tmp_path / "spool"
    with target.open("wb") as file:
        async with aioipc.pipe_to(["cat", "-v"], stdout=file) as inp:
            await inp.send(b"stuff\x01\n")
    assert target.read_bytes() == b"stuff^A\n"
    with pytest.raises(ProcessError, match="exited with status 1"):
        async with aioipc.pipe_to(["sh", "-c", "cat >/dev/null; exit 1"]) as inp:
            await inp.send(b"ignored\n")


async def test_pipe_to_a_command_that_died_names_it() -> None:
    # perlipc's open(FH, "|bogus"): the writer finds out, and learns who and how.

    async def write_forever() -> None:
        async with aioipc.pipe_to(["sh", "-c", "exit 3"]) as inp:
            await send_until_broken(inp, b"bang\n" * 1000)

    with pytest.raises(BrokenPipe) as caught:
        await write_forever()
    error = caught.value
    assert isinstance(error, BrokenPipeError)
    assert error.argv == ["sh", "-c", "exit 3"]
    assert error.returncode == 3
    assert "cannot write to command ['sh', '-c', 'exit 3']" in str(error)
    assert "exited with status 3" in str(error)


async def test_process_stdin_broken_pipe_names_a_command_still_running() -> None:
    async with aioipc.open_process(
        ["sh", "-c", "exec 0<&-; echo READY; exec sleep 100"], stdin=PIPE, stdout=PIPE
    ) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        assert await proc.stdout.readline() == b"READY"
        # uvloop learns of the closed reader at the next write, asyncio before it.
        with pytest.raises(BrokenPipe, match="closed its standard input and is still running"):
            await send_until_broken(proc.stdin)
        proc.kill()


# ------------------------------------------------------------------- pipelines


async def test_spooler_pipeline() -> None:
    # perlipc: open(SPOOLER, "| cat -v | lpr -h 2>/dev/null"), with wc -c for lpr.
    async with aioipc.open_pipeline(
        ["cat", "-v"], ["wc", "-c"], stdin=PIPE, stdout=PIPE
    ) as spooler:
        assert spooler.processes[0].stdout is None  # a kernel pipe, not ours
        assert spooler.processes[1].stdin is None
        output = await spooler.communicate(b"stuff\x01\n")
    assert output.strip() == b"8"  # "stuff^A\n"
    assert spooler.returncodes == [0, 0]


async def test_pipefail_names_every_failed_stage() -> None:

    async def run() -> None:
        async with aioipc.open_pipeline(
            ["sh", "-c", "cat; exit 4"],
            ["cat"],
            ["sh", "-c", "cat >/dev/null; exit 3"],
            stdin=PIPE,
        ) as pipeline:
            assert pipeline.stdin is not None
            await pipeline.stdin.send(b"data\n")

    with pytest.raises(PipelineError) as caught:
        await run()
    error = caught.value
    assert isinstance(error, ProcessError)
    assert [(p, a, rc) for p, a, rc, _ in error.failed_stages] == [
        (1, ["sh", "-c", "cat; exit 4"], 4),
        (3, ["sh", "-c", "cat >/dev/null; exit 3"], 3),
    ]
    assert error.returncode == 3  # pipefail: the last failure
    assert str(error).startswith("pipeline failed: stage 1 of 3, ['sh', '-c', 'cat; exit 4']")
    assert "stage 3 of 3" in str(error)


async def test_sigpipe_upstream_of_a_successful_stage_is_not_a_failure() -> None:
    # yes | head -1: yes dies of SIGPIPE (default again in the child), head succeeds.
    async with aioipc.open_pipeline(["yes"], ["head", "-1"], stdout=PIPE) as pipeline:
        assert await pipeline.communicate() == b"y\n"
    assert [str(s) for s in await pipeline.wait()] == ["killed by SIGPIPE", "exited with status 0"]


async def test_cancelling_a_pipeline_kills_and_reaps_every_stage() -> None:
    started = asyncio.get_running_loop().create_future()

    async def runner() -> None:
        async with aioipc.open_pipeline(
            ["sh", "-c", "echo READY; exec sleep 100"], ["cat"], ["cat"], stdout=PIPE
        ) as pipeline:
            started.set_result(pipeline)
            await pipeline.wait()

    task = asyncio.ensure_future(runner())
    pipeline = await started
    assert pipeline.stdout is not None
    assert await pipeline.stdout.readline() == b"READY"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert all(p.status is not None for p in pipeline.processes)
    assert pipeline.processes[0].status == ExitStatus(signal=signal.SIGTERM)


async def test_pipeline_timeout_stops_everything() -> None:
    async with aioipc.open_pipeline(
        ["sleep", "100"], ["cat"], stdout=PIPE, check=False
    ) as pipeline:
        with pytest.raises(IPCTimeoutError, match="pipeline did not finish"):
            await pipeline.communicate(timeout=0.1)
        assert pipeline.returncodes[0] == -signal.SIGTERM
