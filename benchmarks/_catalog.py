"""Every registered implementation, by name (scenarios are in ``_scenarios.py``)."""

from __future__ import annotations

from ._impl_aioipc import AIOIPC
from ._impl_anyio import ANYIO, ANYIO_UNIX
from ._impl_asyncio import ASYNCIO_STREAMS
from ._impl_raw import RAW
from ._registry import Implementation

IMPLEMENTATIONS: dict[str, Implementation] = {
    i.name: i for i in (RAW, ASYNCIO_STREAMS, AIOIPC, ANYIO, ANYIO_UNIX)
}
