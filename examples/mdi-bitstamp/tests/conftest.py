"""mdi's pytest plugin (installed with md-ingest) provides the fixtures; this names our simulator."""

from __future__ import annotations

import pytest

from mdi_bitstamp.sim import BitstampSimulator


@pytest.fixture
def mdi_simulator_class() -> type[BitstampSimulator]:
    return BitstampSimulator
