"""Every registered implementation and scenario, by name.

Importing the family modules registers their clients with the implementations; the
order here is the order of the tables.
"""

from __future__ import annotations

from ._family_local import LOCAL_SCENARIOS
from ._family_servers import SERVER_IMPLEMENTATIONS, SERVER_SCENARIOS
from ._impl_aioipc import AIOIPC
from ._impl_anyio import ANYIO, ANYIO_UNIX
from ._impl_asyncio import ASYNCIO_STREAMS
from ._impl_raw import RAW
from ._registry import Implementation, Scenario
from ._scenarios import BYTE_SCENARIOS

IMPLEMENTATIONS: dict[str, Implementation] = {
    i.name: i for i in (RAW, ASYNCIO_STREAMS, AIOIPC, ANYIO, ANYIO_UNIX, *SERVER_IMPLEMENTATIONS)
}

SCENARIOS: dict[str, Scenario] = {
    s.name: s for s in (*BYTE_SCENARIOS, *LOCAL_SCENARIOS, *SERVER_SCENARIOS)
}
