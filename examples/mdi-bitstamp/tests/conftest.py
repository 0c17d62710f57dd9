"""mdi's pytest plugin (installed with md-ingest) provides the fixtures; this names our simulator."""

from __future__ import annotations

import pytest

from mdi_bitstamp.sim import BitstampSimulator


@pytest.fixture
def mdi_simulator_class() -> type[BitstampSimulator]:
    return BitstampSimulator


@pytest.fixture
def anyio_backend() -> str:
    """mdi runs on asyncio. (anyio's own fixture would also run every test on trio when trio is
    installed, e.g. pulled in by selenium; a conftest fixture always wins over plugins'.)"""
    return "asyncio"
