"""The conformance suite of aioipc.testing, run on every kind of channel, both ways."""

from __future__ import annotations

import pytest
from streams_pairs import HALF_CLOSEABLE, ONE_WAY

from aioipc.testing import ONE_WAY_CHECKS, PairFactory, check_half_close

ALL_KINDS = {**ONE_WAY, **HALF_CLOSEABLE}


def _reversed(make_pair: PairFactory) -> PairFactory:
    async def make():  # type: ignore[no-untyped-def]
        first, second = await make_pair()
        return second, first

    return make


DIRECTED = {f"{kind}": factory for kind, factory in ALL_KINDS.items()} | {
    f"{kind}-reversed": _reversed(factory) for kind, factory in HALF_CLOSEABLE.items()
}


@pytest.mark.parametrize("check", list(ONE_WAY_CHECKS))
@pytest.mark.parametrize("kind", list(DIRECTED))
async def test_one_way_behaviour(kind: str, check: str) -> None:
    await ONE_WAY_CHECKS[check](DIRECTED[kind])


@pytest.mark.parametrize("kind", list(HALF_CLOSEABLE))
async def test_half_close(kind: str) -> None:
    await check_half_close(HALF_CLOSEABLE[kind])
