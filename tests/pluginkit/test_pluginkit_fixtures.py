"""mdi's pytest plugin, as a plugin author's suite sees it: fixtures come from the ``pytest11``
entry point (no conftest import), the graph is the real one, and the lake is read back."""

from __future__ import annotations

from decimal import Decimal
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable

import pytest

from mdi.events import Trade
from mdi.testing.redis_server import RedisServer
from mdi.testing.sim import VenueSimulator
from mdi.testing.sources import events_source

pytestmark = pytest.mark.anyio

TRADES = [
    Trade(venue="src", symbol="BTC-USD", ts_recv=1_700_000_000_000_000_000 + i, trade_id=str(i),
          price=Decimal("65000.01") + i, size=Decimal("0.00000001"), side="buy")
    for i in range(250)
]


def lake_config(lake: Path) -> str:
    return f"""
[connectors.src]
batch = 40
[sinks.parquet]
root = "{lake}"
flush_interval = 0.2
[http]
enabled = false
"""


def test_plugin_is_registered_as_pytest11_entry_point(pytestconfig: pytest.Config) -> None:
    assert [ep.value for ep in entry_points(group="pytest11") if ep.name == "mdi"] == ["mdi.testing.pytest_plugin"]
    assert pytestconfig.pluginmanager.has_plugin("mdi")


class EchoSim(VenueSimulator):
    venue = "echo"

    async def on_message(self, conn: Any, text: str) -> None:
        await self.send(conn, text.upper())


@pytest.fixture
def mdi_simulator_class() -> type[VenueSimulator]:
    return EchoSim


async def test_simulator_fixture_serves_on_loopback(mdi_simulator: VenueSimulator) -> None:
    from websockets.asyncio.client import connect

    assert mdi_simulator.url.startswith("ws://127.0.0.1:")
    async with connect(mdi_simulator.url) as ws:
        await ws.send("ping")
        assert await ws.recv() == "PING"
    assert mdi_simulator.received == ["ping"]


def test_redis_fixture_is_a_private_real_server(mdi_redis_server: RedisServer) -> None:
    client = mdi_redis_server.client()
    client.set("k", "v")
    assert client.get("k") == "v"
    assert "redis_version" in client.info("server")


async def test_real_graph_writes_every_event_to_the_lake(
    mdi_lake: Path, mdi_run_graph: Callable[..., Any], mdi_read_lake: Callable[[str], list[dict[str, Any]]]
) -> None:
    name, plugin = events_source("src", TRADES)
    async with mdi_run_graph(lake_config(mdi_lake), plugins=[(name, plugin)]) as run:
        await run.wait_for(lambda: plugin.instances and plugin.instances[0].done.is_set())
        assert run.health()["venues"]["src"]["state"] == "live"
    rows = [r for r in mdi_read_lake("trade")]
    assert [r["trade_id"] for r in rows] == [t.trade_id for t in TRADES]
    assert rows[7]["price"] == Decimal("65007.01") and rows[7]["size"] == Decimal("0.00000001")
    seqs = [r["seq"] for r in rows]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
