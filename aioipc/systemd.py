"""Service-manager integration: readiness, status, watchdog and socket activation.

A public submodule (``import aioipc.systemd``) speaking systemd's protocols directly,
without libsystemd: nothing here needs systemd to be installed, and everything is a
no-op when the process was not started by a service manager.  See
``docs/systemd.md``.

* :func:`notify`: ``READY=1``, ``STATUS=…``, ``RELOADING=1``, ``STOPPING=1``,
  ``WATCHDOG=1`` … over ``$NOTIFY_SOCKET`` (``sd_notify``); :class:`NotifyError` when
  it cannot be sent.
* :func:`watchdog` and :func:`watchdog_interval`: ping at half of ``WATCHDOG_USEC``.
* :func:`listen_fds` and :func:`listen_fds_with_names`: the sockets passed by socket
  activation (``sd_listen_fds``), ready for :func:`aioipc.serve`.
"""

from __future__ import annotations

from ._errors import NotifyError as NotifyError
from ._sd_listen import LISTEN_FDS_START as LISTEN_FDS_START
from ._sd_listen import listen_fds as listen_fds
from ._sd_listen import listen_fds_with_names as listen_fds_with_names
from ._sd_notify import notify as notify
from ._sd_notify import notify_socket_address as notify_socket_address
from ._sd_notify import watchdog as watchdog
from ._sd_notify import watchdog_interval as watchdog_interval

__all__ = (
    "LISTEN_FDS_START",
    "NotifyError",
    "listen_fds",
    "listen_fds_with_names",
    "notify",
    "notify_socket_address",
    "watchdog",
    "watchdog_interval",
)
