"""The leak-checking fixture of conftest.py really fails leaky tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import sysv_ipc

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).resolve().parent / "conftest.py").read_text()

LEAKY_TESTS = """
import os, signal, subprocess, sys
import sysv_ipc

def test_leaks_an_fd():
    os.pipe()

def test_leaves_a_zombie():
    subprocess.Popen([sys.executable, "-c", "pass"]).pid

def test_leaves_a_signal_handler():
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)

async def test_leaks_an_fd_on_every_loop():
    os.dup(0)

def test_leaves_a_sysv_queue():
    queue = sysv_ipc.MessageQueue(None, sysv_ipc.IPC_CREX)
    with open("leaked_queue_id", "w") as record:
        record.write(str(queue.id))

def test_clean():
    r, w = os.pipe()
    os.close(r)
    os.close(w)
"""


def test_leaky_tests_fail_and_clean_ones_pass(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyprojecttoml(
        '[tool.pytest.ini_options]\nasyncio_mode = "auto"\n'
        'asyncio_default_fixture_loop_scope = "function"\n'
        'filterwarnings = ["ignore::ResourceWarning"]\n'
    )
    pytester.makepyfile(test_leaky=LEAKY_TESTS)
    try:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    finally:
        record = pytester.path / "leaked_queue_id"
        if record.exists():
            sysv_ipc.remove_message_queue(int(record.read_text()))
    # The bodies pass; the fixture turns each leak into an error at teardown.
    result.assert_outcomes(passed=7, errors=6)
    result.stdout.fnmatch_lines(
        [
            "*teardown of test_leaks_an_fd _*",
            "file descriptors leaked*",
            "*teardown of test_leaves_a_zombie*",
            "child processes left behind*",
            "*teardown of test_leaves_a_signal_handler*",
            "signal handlers not restored*SIGUSR1*",
            "*teardown of test_leaks_an_fd_on_every_loop?asyncio?*",
            "file descriptors leaked*",
            "*teardown of test_leaks_an_fd_on_every_loop?uvloop?*",
            "file descriptors leaked*",
            "*teardown of test_leaves_a_sysv_queue*",
            "SysV IPC objects left in the kernel*",
        ],
        consecutive=False,
    )
