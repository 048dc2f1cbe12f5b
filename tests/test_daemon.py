"""aioipc.daemonize() for real: tests/daemon_program.py daemonizes in a subprocess.

The program's original process exits once its daemon reported success; the daemon
describes itself as one JSON line into a FIFO the test reads (the readiness signal), and
runs until SIGTERM.  The daemon is not our child: the test signals it through a pidfd
and waits on that pidfd until it has gone (init, or a subreaper, reaps it).
The refusals that must happen before any fork are checked in this process, on both loops
where a loop is involved.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import aioipc

PROGRAM = Path(__file__).resolve().parent / "daemon_program.py"
TIMEOUT = 20


class Daemons:
    """Starts daemon_program.py runs and kills every daemon they left, by pidfd."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.pids: list[int] = []
        self.count = 0

    def start(
        self, *args: str, pass_fds: tuple[int, ...] = (), cwd: Path | None = None
    ) -> tuple[subprocess.CompletedProcess[str], dict[str, object] | None]:
        """Run the program; return its outcome and, if it daemonized, what the daemon said."""
        self.count += 1
        fifo = self.tmp_path / f"ready{self.count}"
        os.mkfifo(fifo)
        # Opened before the program runs, non-blocking: the daemon's open for writing
        # then never waits, and until a writer comes poll() reports nothing (no HUP).
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            result = subprocess.run(
                [sys.executable, str(PROGRAM), str(fifo), *args],
                stdin=subprocess.DEVNULL,
                capture_output=True,  # hangs if the daemon kept our pipes open
                text=True,
                timeout=TIMEOUT,
                check=False,
                pass_fds=pass_fds,
                cwd=cwd,
            )
            if result.returncode != 0:
                return result, None
            data = b""
            poller = select.poll()
            poller.register(reader, select.POLLIN)
            while not data.endswith(b"\n"):
                assert poller.poll(TIMEOUT * 1000), f"no word from the daemon: {result}"
                chunk = os.read(reader, 65536)
                assert chunk, f"the daemon closed its FIFO without a word: {data!r}"
                data += chunk
        finally:
            os.close(reader)
            fifo.unlink()
        info: dict[str, object] = json.loads(data)
        pid = info["pid"]
        assert isinstance(pid, int)
        self.pids.append(pid)
        return result, info

    def stop(self, pid: int) -> None:
        """SIGTERM the daemon through a pidfd and wait until it has gone."""
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGTERM)
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            if not poller.poll(TIMEOUT * 1000):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                poller.poll(TIMEOUT * 1000)
                raise AssertionError(f"daemon {pid} ignored SIGTERM for {TIMEOUT} s")
        finally:
            os.close(pidfd)
        if pid in self.pids:
            self.pids.remove(pid)


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Daemons]:
    runner = Daemons(tmp_path)
    try:
        yield runner
    finally:
        for pid in list(runner.pids):
            runner.stop(pid)


def stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat", encoding="ascii") as file:
        return file.read().rsplit(")", 1)[1].split()


def test_daemon_is_detached_and_holds_its_pidfile(daemons: Daemons, tmp_path: Path) -> None:
    pidfile = tmp_path / "d.pid"
    extra_read, extra_write = os.pipe()
    try:
        result, info = daemons.start(
            "--pidfile", str(pidfile), "--umask", "0o027", pass_fds=(extra_write,)
        )
        os.close(extra_write)
        extra_write = -1
        assert result.returncode == 0, result.stderr
        assert result.stdout == ""
        assert result.stderr == ""
        assert info is not None
        pid = info["pid"]
        assert isinstance(pid, int)
        # The pidfile holds the daemon's pid, and the daemon holds its lock.
        assert pidfile.read_text() == f"{pid}\n"
        probe = os.open(pidfile, os.O_RDONLY | os.O_CLOEXEC)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(probe)
        # Detached: not a session or group leader, no terminal, not our child.
        assert info["sid"] != pid
        assert info["pgid"] != pid
        assert info["sid"] == info["pgid"]
        assert info["tty_nr"] == 0
        assert info["ppid"] != os.getpid()
        assert info["cwd"] == "/"
        assert info["umask"] == 0o027
        # stdio on /dev/null; nothing else inherited but the pidfile lock.
        fds = info["fds"]
        assert isinstance(fds, dict)
        assert {fds["0"], fds["1"], fds["2"]} == {"/dev/null"}
        assert sorted(fds.values()) == sorted(["/dev/null"] * 3 + [str(pidfile)])
        assert os.read(extra_read, 1) == b""  # the fd we passed was closed in the daemon
        # The same, seen from outside.
        fields = stat_fields(pid)
        assert int(fields[3]) != pid
        assert int(fields[4]) == 0
        for fd in (0, 1, 2):
            assert os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/null"

        daemons.stop(pid)
        assert not pidfile.exists(), "the daemon left its pidfile at exit"
    finally:
        os.close(extra_read)
        if extra_write >= 0:
            os.close(extra_write)


def test_second_instance_is_refused_in_the_callers_terminal(
    daemons: Daemons, tmp_path: Path
) -> None:
    pidfile = tmp_path / "d.pid"
    result, info = daemons.start("--pidfile", str(pidfile))
    assert result.returncode == 0
    assert info is not None
    pid = info["pid"]
    second, second_info = daemons.start("--pidfile", str(pidfile))
    assert second_info is None
    assert second.returncode == 1
    assert second.stderr == (
        f"daemon_program: AlreadyRunning: already running as pid {pid}: pidfile {pidfile} "
        "is locked by that process\n"
    )
    assert pidfile.read_text() == f"{pid}\n"  # untouched by the refused instance


def test_stale_pidfile_is_replaced(daemons: Daemons, tmp_path: Path) -> None:
    pidfile = tmp_path / "d.pid"
    # No process has this pid (above pid_max), and it is longer than the daemon's: the
    # rewrite must truncate it.
    pidfile.write_text("4194304999\n")
    result, info = daemons.start("--pidfile", str(pidfile))
    assert result.returncode == 0, result.stderr
    assert info is not None
    assert pidfile.read_text() == f"{info['pid']}\n"


def test_stdout_to_a_file_and_cwd_kept(daemons: Daemons, tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    result, info = daemons.start("--stdout", str(log), "--chdir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert info is not None
    pid = info["pid"]
    assert info["cwd"] == str(tmp_path)
    fds = info["fds"]
    assert isinstance(fds, dict)
    assert (fds["0"], fds["1"], fds["2"]) == ("/dev/null", str(log), "/dev/null")
    assert log.read_text() == f"hello from daemon {pid}\n"


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_loop_before_and_after_daemonize(daemons: Daemons, loop: str) -> None:
    result, info = daemons.start("--loop", loop)
    assert result.returncode == 0, result.stderr
    assert info is not None
    assert info["run_process"] == "from a child of the daemon\n"


def test_a_setup_failure_is_reported_by_the_caller(daemons: Daemons, tmp_path: Path) -> None:
    pidfile = tmp_path / "d.pid"
    missing = tmp_path / "no such dir"
    result, info = daemons.start("--pidfile", str(pidfile), "--chdir", str(missing))
    assert info is None
    assert result.returncode == 1
    assert result.stderr == (
        "daemon_program: FileNotFoundError: [Errno 2] daemonize(): the daemon could not "
        f"change directory to {missing}: No such file or directory: '{missing}'\n"
    )
    assert not pidfile.exists(), "a failed start left a pidfile"


def test_unwritable_pidfile_is_reported(daemons: Daemons, tmp_path: Path) -> None:
    pidfile = tmp_path / "missing-dir" / "d.pid"
    result, info = daemons.start("--pidfile", str(pidfile))
    assert info is None
    assert result.returncode == 1
    assert result.stderr.startswith("daemon_program: FileNotFoundError: ")
    assert str(pidfile) in result.stderr


async def test_daemonize_refuses_a_running_loop() -> None:
    with pytest.raises(aioipc.DaemonizeError, match="with an event loop running"):
        aioipc.daemonize()
    assert isinstance(aioipc.DaemonizeError("x"), RuntimeError)


def test_daemonize_refuses_an_open_loop() -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        with pytest.raises(aioipc.DaemonizeError, match="has an open event loop"):
            aioipc.daemonize()
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_daemonize_refuses_other_threads() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="helper")
    thread.start()
    try:
        with pytest.raises(aioipc.DaemonizeError, match=r"other threads running \(.*helper"):
            aioipc.daemonize()
    finally:
        stop.set()
        thread.join()


@pytest.mark.parametrize("umask", [-1, 0o1000, 1.5, True])
def test_daemonize_rejects_a_bad_umask(umask: object) -> None:
    with pytest.raises(ValueError, match="umask must be None or an int"):
        aioipc.daemonize(umask=umask)  # type: ignore[arg-type]


def test_reexec_restarts_the_same_program_with_a_clean_signal_state(tmp_path: Path) -> None:
    root = PROGRAM.parent.parent
    result = subprocess.run(
        [sys.executable, "-X", "utf8", "tests/reexec_program.py", "alpha", "beta gamma"],
        cwd=root,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    info = json.loads(second)
    assert first == f"generation 1: pid {info['pid']}"  # same process, exec'd
    assert info["argv"] == ["alpha", "beta gamma"]
    # Interpreter options kept; the script found by absolute path from "/".
    assert info["orig_argv"][1:] == [
        "-X",
        "utf8",
        str(root / "tests" / "reexec_program.py"),
        "alpha",
        "beta gamma",
    ]
    assert info["sigblk"] == 0, "SIGHUP blocked before reexec stayed blocked"
    # CPython ignores SIGPIPE and SIGXFSZ itself; the new interpreter did that anew.
    sigpipe = 1 << (signal.SIGPIPE - 1)
    assert info["sigign"] & sigpipe


def test_reexec_checks_the_program_before_resetting_anything(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGPIPE)
    with pytest.raises(FileNotFoundError, match="program not found"):
        aioipc.reexec([str(tmp_path / "missing")])
    with pytest.raises(FileNotFoundError, match="not found in PATH"):
        aioipc.reexec(["aioipc-no-such-program"])
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(PermissionError, match="not executable"):
        aioipc.reexec([str(script)])
    with pytest.raises(TypeError, match="list of arguments"):
        aioipc.reexec("python")
    with pytest.raises(ValueError, match="non-empty argv"):
        aioipc.reexec([])
    assert signal.getsignal(signal.SIGPIPE) == before


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"stdin": object()}, TypeError, "stdin must be None, a path, an fd or an open file"),
        ({"stdout": True}, TypeError, "stdout must be None, a path, an fd or an open file"),
        ({"stderr": -1}, ValueError, "stderr=-1: an fd cannot be negative"),
    ],
)
def test_daemonize_rejects_bad_stdio(kwargs: dict[str, object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        aioipc.daemonize(**kwargs)  # type: ignore[arg-type]


def test_a_locked_empty_pidfile_is_refused_without_a_pid(daemons: Daemons, tmp_path: Path) -> None:
    # A starting instance holds the lock but has not written its pid yet.
    pidfile = tmp_path / "d.pid"
    holder = os.open(pidfile, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        result, info = daemons.start("--pidfile", str(pidfile))
    finally:
        os.close(holder)
    assert info is None
    assert result.returncode == 1
    assert result.stderr == (
        "daemon_program: AlreadyRunning: already running (its pid is not written yet): "
        f"pidfile {pidfile} is locked by that process\n"
    )
    assert pidfile.exists(), "a refused start removed the running instance's pidfile"


# ------------------------------------------------------------------ the options


def test_stdin_from_a_path(daemons: Daemons, tmp_path: Path) -> None:
    source = tmp_path / "input.txt"
    source.write_text("first line\nsecond line\n")
    result, info = daemons.start("--stdin", str(source))
    assert result.returncode == 0, result.stderr
    assert info is not None
    fds = info["fds"]
    assert isinstance(fds, dict)
    assert (fds["0"], fds["1"], fds["2"]) == (str(source), "/dev/null", "/dev/null")
    assert info["stdin"] == "first line\nsecond line\n"


def test_chdir_none_stays_in_the_callers_directory(daemons: Daemons, tmp_path: Path) -> None:
    here = tmp_path / "here"
    here.mkdir()
    # A relative pidfile is resolved against the caller's directory either way.
    result, info = daemons.start("--no-chdir", "--pidfile", "d.pid", cwd=here)
    assert result.returncode == 0, result.stderr
    assert info is not None
    assert info["cwd"] == str(here)
    assert (here / "d.pid").read_text() == f"{info['pid']}\n"


def test_close_fds_false_keeps_inheritable_fds(daemons: Daemons) -> None:
    extra_read, extra_write = os.pipe()
    try:
        result, info = daemons.start("--keep-fds", pass_fds=(extra_write,))
        assert result.returncode == 0, result.stderr
        assert info is not None
        fds = info["fds"]
        assert isinstance(fds, dict)
        # The pipe's write end is still open in the daemon, under the same number.
        assert fds[str(extra_write)] == f"pipe:[{os.fstat(extra_write).st_ino}]"
        os.close(extra_write)
        extra_write = -1
        poller = select.poll()
        poller.register(extra_read, select.POLLIN)
        pid = info["pid"]
        assert isinstance(pid, int)
        daemons.stop(pid)
        # Only the daemon's exit closed the last write end: EOF now.
        assert poller.poll(TIMEOUT * 1000)
        assert os.read(extra_read, 1) == b""
    finally:
        os.close(extra_read)
        if extra_write >= 0:
            os.close(extra_write)


def test_stdout_to_an_fd_and_stderr_to_a_file_object(daemons: Daemons, tmp_path: Path) -> None:
    out_read, out_write = os.pipe()
    errors = tmp_path / "err.log"
    try:
        result, info = daemons.start(
            "--stdout-fd",
            str(out_write),
            "--stderr-file",
            str(errors),
            pass_fds=(out_write,),
        )
        os.close(out_write)
        out_write = -1
        assert result.returncode == 0, result.stderr
        assert result.stdout == ""
        assert info is not None
        pid = info["pid"]
        fds = info["fds"]
        assert isinstance(fds, dict)
        assert fds["1"].startswith("pipe:[")
        assert fds["2"] == str(errors)
        # The program's own fds for them were closed in the daemon: only 0, 1, 2 left.
        assert sorted(fds.values()) == sorted(["/dev/null", fds["1"], str(errors)])
        data = b""
        poller = select.poll()
        poller.register(out_read, select.POLLIN)
        while not data.endswith(b"\n"):
            assert poller.poll(TIMEOUT * 1000), f"nothing on the daemon's stdout: {data!r}"
            data += os.read(out_read, 4096)
        assert data == f"hello from daemon {pid}\n".encode()
        assert isinstance(pid, int)
        daemons.stop(pid)  # its stderr line was flushed before it said it was ready
        assert errors.read_text() == f"stderr of daemon {pid}\n"
    finally:
        os.close(out_read)
        if out_write >= 0:
            os.close(out_write)


# ------------------------------------------------------- the pidfile is never empty


def kill_and_wait(pid: int) -> None:
    """SIGKILL a daemon (no atexit: its pidfile stays behind, stale) and wait for its end."""
    pidfd = os.pidfd_open(pid)
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        assert poller.poll(TIMEOUT * 1000), f"daemon {pid} survived SIGKILL"
    finally:
        os.close(pidfd)


def test_a_reader_never_sees_an_empty_or_partial_pidfile(daemons: Daemons, tmp_path: Path) -> None:
    # A thread reads the pidfile in a loop while daemons start on a missing pidfile,
    # take over a stale one (SIGKILLed, no cleanup) and stop.  Whatever it catches is
    # either no file or a whole pid.
    pidfile = tmp_path / "d.pid"
    seen: list[str] = []
    missing = 0
    done = threading.Event()

    def read_forever() -> None:
        nonlocal missing
        while not done.is_set():
            try:
                seen.append(pidfile.read_text())
            except FileNotFoundError:
                missing += 1

    reader = threading.Thread(target=read_forever)
    reader.start()
    started: list[int] = []
    try:
        for round_ in range(6):
            result, info = daemons.start("--pidfile", str(pidfile))
            assert result.returncode == 0, result.stderr
            assert info is not None
            pid = info["pid"]
            assert isinstance(pid, int)
            started.append(pid)
            assert pidfile.read_text() == f"{pid}\n"
            if round_ % 2:
                daemons.stop(pid)  # removes the pidfile: the next start creates it
            else:
                kill_and_wait(pid)  # leaves it stale: the next start takes it over
                daemons.pids.remove(pid)
    finally:
        done.set()
        reader.join()
    assert seen, "the reader never caught the pidfile"
    bad = {text for text in seen if not re.fullmatch(r"[1-9][0-9]*\n", text)}
    assert not bad, f"the reader saw {bad!r}"
    assert {int(text) for text in seen} <= set(started)


def start_racing(tmp_path: Path, pidfile: Path, count: int) -> list[tuple[int, str, int | None]]:
    """Start ``count`` instances at once; (returncode, stderr, pid it reported) each."""
    procs = []
    readers = []
    for i in range(count):
        fifo = tmp_path / f"race{i}"
        os.mkfifo(fifo)
        readers.append(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
        procs.append(
            subprocess.Popen(
                [sys.executable, str(PROGRAM), str(fifo), "--pidfile", str(pidfile)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outcomes: list[tuple[int, str, int | None]] = []
    try:
        for proc, reader in zip(procs, readers, strict=True):
            _, stderr = proc.communicate(timeout=TIMEOUT)
            pid = None
            if proc.returncode == 0:
                data = b""
                poller = select.poll()
                poller.register(reader, select.POLLIN)
                while not data.endswith(b"\n"):
                    assert poller.poll(TIMEOUT * 1000), "no word from the daemon"
                    data += os.read(reader, 65536)
                pid = json.loads(data)["pid"]
            outcomes.append((proc.returncode, stderr, pid))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for reader in readers:
            os.close(reader)
    return outcomes


@pytest.mark.parametrize("stale", [False, True], ids=["new", "stale"])
def test_racing_instances_one_wins_the_others_name_it(
    daemons: Daemons, tmp_path: Path, stale: bool
) -> None:
    pidfile = tmp_path / "d.pid"
    if stale:
        pidfile.write_text("4194304999\n")  # above pid_max: nobody
    outcomes = start_racing(tmp_path, pidfile, 4)
    winners = [pid for code, _, pid in outcomes if code == 0]
    for pid in winners:
        assert pid is not None
        daemons.pids.append(pid)
    assert len(winners) == 1, outcomes
    winner = winners[0]
    assert pidfile.read_text() == f"{winner}\n"
    for code, stderr, _ in outcomes:
        if code == 0:
            continue
        assert code == 1
        # Refused before forking (the winner's pid, or none yet if the winner was still
        # replacing the stale file) or after it, having lost the race for the path.
        assert stderr in (
            f"daemon_program: AlreadyRunning: already running as pid {winner}: "
            f"pidfile {pidfile} is locked by that process\n",
            "daemon_program: AlreadyRunning: already running (its pid is not written yet): "
            f"pidfile {pidfile} is locked by that process\n",
        ), stderr
    # Nothing left behind but the pidfile: no temporary files.
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("race")) == ["d.pid"]
    assert isinstance(winner, int)
    daemons.stop(winner)
    assert not pidfile.exists()
