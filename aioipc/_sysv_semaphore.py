"""A SysV semaphore whose waits are awaited, cancellable and lossless.

Creation and initialisation.  ``semget`` creates a semaphore with value 0 and a
separate call must set its value, so a second process can open it in between and
see (or act on) the uninitialised value; a ``SETVAL`` that lands after that process's
operation also wipes it out.  aioipc never uses ``SETVAL`` on a semaphore it shares:

1. the creator makes the set exclusively (``IPC_CREAT | IPC_EXCL``) with value 0;
2. it adds ``initial`` with one ``semop`` (without ``SEM_UNDO``, so the units outlive
   the creator); for ``initial=0`` it does a "wait for zero" ``semop`` instead, which
   succeeds at once and changes nothing.  Either sets the set's ``sem_otime``, which is
   0 until the first ``semop`` ever;
3. a process that *opens* an existing set waits, briefly, until ``sem_otime`` is
   non-zero: the creator has finished (the ``sem_otime`` trick of sysv_ipc's and
   Stevens' documentation).

Because step 2 adds rather than sets, an opener that acts before it is still counted
correctly.  A set made by another program that sets its value with ``SETVAL`` and never
operates on it (perlipc's creator does this) keeps ``sem_otime`` at 0; the wait is
bounded by :data:`INIT_WAIT` seconds, after which the set is used as it is.
"""

from __future__ import annotations

import time
import types

import sysv_ipc

from ._errors import SysVRemoved
from ._sysv_keys import IPC_PRIVATE, check_key, describe
from ._sysv_poller import translate_error, wait_for

__all__ = ["INIT_WAIT", "Semaphore"]

#: How long opening an existing, not yet initialised semaphore waits for its creator.
INIT_WAIT = 0.05
_INIT_POLL = 0.0005


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low} to {high}, not {value}")
    return value


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {value!r}")
    return value


class Semaphore:
    """A SysV semaphore (a set of one) shared between processes by key.

    ``Semaphore(key=None, *, initial=0, undo=True, mode=0o600, create=True,
    exclusive=False)`` opens the semaphore with ``key``, creating it (with value
    ``initial`` and permissions ``mode``) if there is none and ``create`` is true.
    ``key=None`` (or :data:`IPC_PRIVATE`) always creates a new private semaphore,
    reachable by others only through :attr:`id` or inheritance.  ``exclusive=True``
    insists on creating it.  ``initial`` applies only when this call creates it.

    With ``undo=True`` (the default) every acquire and release is made with
    ``SEM_UNDO``: when the process ends, however it ends, the kernel reverses its net
    effect, so a crashed holder of a lock does not deadlock the others.  That suits a
    semaphore used as a lock (acquired and released by the same process).  For a
    semaphore that signals between processes -- one releases, another acquires -- pass
    ``undo=False``, or the releaser's exit takes its releases back.

    ``async with sem:`` acquires one unit and releases it on the way out.  The
    semaphore stays in the kernel until :meth:`remove` (or ``ipcrm``).

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: ``key`` does not fit in 32 bits, ``initial`` is outside 0..32767,
            ``mode`` is outside 0..0o777, or a private key is given with
            ``create=False``.
        FileExistsError: ``exclusive=True`` and a semaphore with ``key`` exists.
        FileNotFoundError: ``create=False`` and there is no semaphore with ``key``.
        PermissionError: the semaphore exists and ``mode`` denies this process.
        OSError: the kernel refused otherwise (``ENOSPC``: the system limit of
            semaphore sets is reached).
    """

    def __init__(
        self,
        key: int | None = None,
        *,
        initial: int = 0,
        undo: bool = True,
        mode: int = 0o600,
        create: bool = True,
        exclusive: bool = False,
    ) -> None:
        key = check_key(key)
        initial = _check_int("initial", initial, 0, sysv_ipc.SEMAPHORE_VALUE_MAX)
        # Bits above 0o777 would reach semget's flags (0o1000 is IPC_CREAT).
        mode = _check_int("mode", mode, 0, 0o777)
        undo = _check_bool("undo", undo)
        create = _check_bool("create", create)
        exclusive = _check_bool("exclusive", exclusive)
        if key == IPC_PRIVATE and not create:
            raise ValueError("a private semaphore (key None or IPC_PRIVATE) needs create=True")
        self._sem, self.created = self._open(key, initial, mode, create, exclusive)
        self._sem.block = False
        self._sem.undo = undo
        self._describe = describe("semaphore", self._sem.key, self._sem.id)

    @staticmethod
    def _open(
        key: int, initial: int, mode: int, create: bool, exclusive: bool
    ) -> tuple[sysv_ipc.Semaphore, bool]:
        name = describe("semaphore", key, -1).split(" (")[0]
        while True:
            if create:
                try:
                    sem = sysv_ipc.Semaphore(key, sysv_ipc.IPC_CREX, mode, 0)
                except sysv_ipc.ExistentialError:
                    if exclusive:
                        raise FileExistsError(
                            f"{name} already exists (exclusive=True asks to create it)"
                        ) from None
                except sysv_ipc.PermissionsError as exc:
                    raise PermissionError(f"cannot create {name}: {exc}") from None
                else:
                    _initialise(sem, initial)
                    return sem, True
            try:
                sem = sysv_ipc.Semaphore(key, 0)
            except sysv_ipc.ExistentialError:
                if create:
                    continue  # removed between our two semget calls: create it again
                raise FileNotFoundError(f"no {name} exists (create=False)") from None
            except sysv_ipc.PermissionsError as exc:
                raise PermissionError(f"cannot open {name}: {exc}") from None
            _await_initialised(sem)
            return sem, False

    # --- attributes ---------------------------------------------------------------

    @property
    def key(self) -> int:
        """The key (0 for a private semaphore), as the kernel stores it: signed 32-bit."""
        key: int = self._sem.key
        return key

    @property
    def id(self) -> int:
        """The kernel's identifier of the semaphore set (what ``ipcs -s`` lists)."""
        ident: int = self._sem.id
        return ident

    @property
    def undo(self) -> bool:
        """Whether acquires and releases are made with ``SEM_UNDO``."""
        return bool(self._sem.undo)

    @property
    def value(self) -> int:
        """The semaphore's current value (a snapshot: other processes may change it).

        Raises:
            SysVRemoved: the semaphore no longer exists.
        """
        try:
            value: int = self._sem.value
        except sysv_ipc.Error as exc:
            raise translate_error(exc, self._describe, while_waiting=False) from exc
        return value

    def __repr__(self) -> str:
        return f"<aioipc.sysv.Semaphore {self._describe} undo={self.undo}>"

    # --- operations ---------------------------------------------------------------

    async def acquire(self, timeout: float | None = None) -> None:
        """Take one unit, waiting until there is one.

        The first attempt is made at once, in the calling thread, without blocking;
        only if no unit is free (or other waiters of this process are queued first)
        does the call wait, polled by aioipc's poller threads.  Cancelling it at any
        moment takes no unit: a unit obtained for a waiter already cancelled is
        released again.  ``timeout=0`` only tries.

        Raises:
            IPCTimeoutError: ``timeout`` seconds passed first (a :class:`TimeoutError`).
            SysVRemoved: the semaphore was removed, before or during the wait.
            PermissionError: ``mode`` does not allow this process to alter it.
            TypeError, ValueError: ``timeout`` is not a non-negative number or None.
        """
        await wait_for(
            self._sem.acquire,
            queue=("sem", self.id, "acquire"),
            describe=self._describe,
            undo=self._give_back,
            timeout=timeout,
        )

    def _give_back(self, _result: object) -> None:
        # One non-blocking semop, made by the cancelled waiter itself (or by a poller
        # thread): a release never has to wait, except at the kernel's maximum value,
        # where BusyError has the poller retry it.  Removed meanwhile: there is nothing
        # to give the unit back to.
        try:
            self._sem.release()
        except sysv_ipc.ExistentialError:
            pass
        except ValueError:  # ERANGE: others took the value to SEMVMX meanwhile
            raise sysv_ipc.BusyError(f"{self._describe} is at its maximum value") from None

    async def wait_zero(self, timeout: float | None = None) -> None:
        """Wait until the semaphore's value is zero (``semop`` with ``sem_op`` 0).

        Raises:
            IPCTimeoutError: ``timeout`` seconds passed first (a :class:`TimeoutError`).
            SysVRemoved: the semaphore was removed, before or during the wait.
            PermissionError: ``mode`` does not allow this process to read it.
            TypeError, ValueError: ``timeout`` is not a non-negative number or None.
        """
        await wait_for(
            self._sem.Z,
            queue=("sem", self.id, "zero"),
            describe=self._describe,
            undo=None,
            timeout=timeout,
        )

    def release(self, n: int = 1) -> None:
        """Add ``n`` units at once (``semop`` with ``sem_op`` ``n``); never waits.

        Raises:
            TypeError: ``n`` is not an int.
            ValueError: ``n`` is outside 1..32767, or the value would exceed the
                kernel's maximum (``SEMVMX``, 32767).
            SysVRemoved: the semaphore no longer exists.
            PermissionError: ``mode`` does not allow this process to alter it.
        """
        n = _check_int("n", n, 1, sysv_ipc.SEMAPHORE_VALUE_MAX)
        try:
            self._sem.release(n)
        except ValueError:
            raise ValueError(
                f"releasing {n} would take {self._describe} above the kernel's maximum "
                f"value {sysv_ipc.SEMAPHORE_VALUE_MAX}"
            ) from None
        except sysv_ipc.Error as exc:
            raise translate_error(exc, self._describe, while_waiting=False) from exc

    def remove(self) -> None:
        """Remove the semaphore from the kernel (``IPC_RMID``).

        Processes waiting on it get :class:`SysVRemoved`.

        Raises:
            SysVRemoved: it was removed already.
            PermissionError: this process is neither its owner nor its creator.
        """
        try:
            self._sem.remove()
        except sysv_ipc.Error as exc:
            raise translate_error(exc, self._describe, while_waiting=False) from exc

    async def __aenter__(self) -> Semaphore:
        await self.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.release()


def _initialise(sem: sysv_ipc.Semaphore, initial: int) -> None:
    sem.block = False
    sem.undo = False  # the initial units belong to the semaphore, not to its creator
    try:
        if initial:
            sem.release(initial)
        else:
            sem.Z()
    except sysv_ipc.BusyError:
        pass  # an opener released before us; sem_otime is set all the same
    except BaseException:
        sem.remove()
        raise


def _await_initialised(sem: sysv_ipc.Semaphore) -> None:
    # Blocking, but bounded and only until another process's two back-to-back system
    # calls are done; after INIT_WAIT a set nobody ever operated on is taken as it is.
    deadline = time.monotonic() + INIT_WAIT
    try:
        while sem.o_time == 0 and time.monotonic() < deadline:
            time.sleep(_INIT_POLL)
    except sysv_ipc.ExistentialError:
        raise SysVRemoved(describe("semaphore", sem.key, sem.id), while_waiting=True) from None
