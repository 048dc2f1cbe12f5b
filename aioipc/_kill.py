"""Sending signals: kill, kill_group and the ``kill 0`` liveness test."""

from __future__ import annotations

import os

from ._signal_names import SignalLike, _to_signum

__all__ = ["is_alive", "kill", "kill_group"]

# ------------------------------------------------------------------ kill and friends


def _check_pid(value: object, argname: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{argname} must be an int, not {value!r}")
    return int(value)


def kill(pid: int, sig: SignalLike) -> None:
    """Send ``sig`` to the process ``pid``: Perl's ``kill HUP => $pid``.

    ``sig`` may be a number or a name; 0 sends nothing and only checks (prefer
    :func:`is_alive`).  Groups are :func:`kill_group`'s job, so ``pid`` must be positive.

    Raises:
        TypeError: ``pid`` is not an int, or ``sig`` is not a number or name.
        ValueError: ``pid`` is 0 or negative (that would signal a process group, or with
            -1 every process you may signal), or ``sig`` is unknown.
        ProcessLookupError: no such process.
        PermissionError: not allowed to signal it.
    """
    number = _check_pid(pid, "pid")
    if number <= 0:
        raise ValueError(
            f"pid must be positive, not {number}: 0 and negative pids address process "
            "groups (and -1 every process you may signal); use kill_group() for groups"
        )
    os.kill(number, _to_signum(sig, "sig", allow_zero=True))


def kill_group(pgid: int, sig: SignalLike) -> None:
    """Send ``sig`` to every process in the process group ``pgid``.

    Perl's ``kill HUP => -$pgid``; ``pgid=0`` means this process's own group (then the
    signal reaches this process too: wrap the call in ``ignore_signals(sig)``, as
    perlipc does with ``local $SIG{HUP} = 'IGNORE'``).

    Raises:
        TypeError: ``pgid`` is not an int, or ``sig`` is not a number or name.
        ValueError: ``pgid`` is negative, or 1 (``killpg(1, sig)`` is ``kill(-1, sig)``:
            every process you may signal), or ``sig`` is unknown.
        ProcessLookupError: no such process group.
        PermissionError: not allowed to signal any process in it.
    """
    number = _check_pid(pgid, "pgid")
    if number < 0:
        raise ValueError(f"pgid must be a process group id (>= 0, 0 for our own), not {number}")
    if number == 1:
        raise ValueError(
            "pgid=1 is refused: killpg(1, sig) means kill(-1, sig), which signals every "
            "process you are allowed to signal"
        )
    os.killpg(number, _to_signum(sig, "sig", allow_zero=True))


def is_alive(pid: int) -> bool:
    """Tell whether a process with this pid exists: Perl's ``kill 0 => $pid or $!{EPERM}``.

    Sends signal 0, which checks without delivering anything.  EPERM (it exists but we
    may not signal it) means alive; ESRCH means no such process.  A zombie -- exited,
    not yet reaped by its parent -- still exists and counts as alive.  A pid can be
    reused once a process is reaped: use it only for processes you know.

    Raises:
        TypeError: ``pid`` is not an int.
        ValueError: ``pid`` is 0 or negative (that would ask about a process group).
    """
    number = _check_pid(pid, "pid")
    if number <= 0:
        raise ValueError(f"pid must be positive, not {number}")
    try:
        os.kill(number, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
