"""Signal names and numbers: perlipc's %signo and @signame, and what may be caught."""

from __future__ import annotations

import re
import signal
from typing import TypeAlias

__all__ = ["SignalLike", "signal_name", "signal_number"]


#: A signal given by number (``signal.SIGHUP``, ``1``) or by name (``"HUP"``, ``"SIGHUP"``).
SignalLike: TypeAlias = int | str


_VALID_SIGNALS = frozenset(int(s) for s in signal.valid_signals())
_RTMIN = int(signal.SIGRTMIN)
_RTMAX = int(signal.SIGRTMAX)
_UNCATCHABLE = frozenset({int(signal.SIGKILL), int(signal.SIGSTOP)})
#: Synchronous faults: a deferred handler returns, the instruction runs again and faults
#: again, forever (perlipc: "Signals as faults").
_FAULTS = frozenset(int(s) for s in (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE))
#: Blocked around every change of a hub-managed disposition (faults excluded: blocking a
#: fault that really happens kills the process).
_BLOCKABLE = frozenset(_VALID_SIGNALS - _UNCATCHABLE - _FAULTS)


# --------------------------------------------------------------------------- names


def _rt_name(signum: int) -> str:
    # The names `kill -l` prints: SIGRTMIN+1 .. SIGRTMIN+15, SIGRTMAX-14 .. SIGRTMAX-1.
    if signum - _RTMIN <= (_RTMAX - _RTMIN) // 2:
        return f"SIGRTMIN+{signum - _RTMIN}"
    return f"SIGRTMAX-{_RTMAX - signum}"


_RT_NAME = re.compile(r"SIGRT(MIN|MAX)(?:([+-])(\d+))?")


def _parse_name(name: str, argname: str) -> int:
    text = name.strip().upper()
    if not text.startswith("SIG"):
        text = "SIG" + text
    member = signal.Signals.__members__.get(text)
    if member is not None:
        return int(member)
    match = _RT_NAME.fullmatch(text)
    if match is not None:
        base, sign, offset = match.groups()
        if sign is None:
            return _RTMIN if base == "MIN" else _RTMAX
        if (base, sign) == ("MIN", "+") and int(offset) <= _RTMAX - _RTMIN:
            return _RTMIN + int(offset)
        if (base, sign) == ("MAX", "-") and int(offset) <= _RTMAX - _RTMIN:
            return _RTMAX - int(offset)
    raise ValueError(
        f"unknown signal name {name!r} for {argname}; use a name such as 'HUP', 'SIGTERM' "
        f"or 'SIGRTMIN+3', or a number in 1..{_RTMAX}"
    )


def _to_signum(value: object, argname: str = "sig", *, allow_zero: bool = False) -> int:
    """Turn a signal number or name into a valid signal number for this system."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(
            f"{argname} must be a signal number or name (such as signal.SIGHUP or 'HUP'), "
            f"not {value!r}"
        )
    if isinstance(value, str):
        return _parse_name(value, argname)
    signum = int(value)
    if signum == 0 and allow_zero:
        return 0
    if signum not in _VALID_SIGNALS:
        raise ValueError(
            f"{argname}={value!r} is not a signal number on this system "
            f"(valid: 1..{_RTMAX}, except {sorted(set(range(1, _RTMAX + 1)) - _VALID_SIGNALS)})"
        )
    return signum


def signal_name(sig: SignalLike) -> str:
    """Return the conventional name of a signal: ``signal_name(1) == "SIGHUP"``.

    Perl's ``$signame[$n]``.  Aliases resolve to one name (6 is ``"SIGABRT"``, not
    ``"SIGIOT"``); realtime signals are named as ``kill -l`` names them
    (``"SIGRTMIN+3"``, ``"SIGRTMAX-2"``).  A name is accepted too and comes back in
    its canonical spelling (``signal_name("hup") == "SIGHUP"``).

    Raises:
        TypeError: ``sig`` is neither an int nor a str.
        ValueError: ``sig`` is not a signal of this system, or an unknown name.
    """
    signum = _to_signum(sig, "sig")
    try:
        return signal.Signals(signum).name
    except ValueError:
        return _rt_name(signum)


def signal_number(sig: SignalLike) -> int:
    """Return the number of a signal given by name or number.

    Perl's ``$signo{HUP}``.  Names are case-insensitive and the ``SIG`` prefix is
    optional: ``"HUP"``, ``"SIGHUP"`` and ``"hup"`` all give 1.  Realtime signals are
    written ``"SIGRTMIN+3"`` or ``"SIGRTMAX-2"``.  Numbers and :class:`signal.Signals`
    members are checked and returned as plain ints.

    Raises:
        TypeError: ``sig`` is neither an int nor a str (``bool`` is refused too).
        ValueError: an unknown name (the message quotes it), or a number that is not a
            signal of this system (0 included).
    """
    return _to_signum(sig, "sig")
