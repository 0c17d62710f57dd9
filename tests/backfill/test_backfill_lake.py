"""Gap repair through the real graph into the Parquet lake: Kraken and Coinbase simulators drop
the connection mid-stream and keep trading; afterwards the lake holds every trade they made
exactly once (read back with DuckDB), and the one hole the API cannot reach is a gap row that
says why. /health and /metrics report the repairs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import duckdb
import httpx
import pytest
from backfill_support import wait_for
from prometheus_client.parser import text_string_to_metric_families

from mdi.config import parse_config
from mdi.graph import assemble
from mdi.plugins import build_plugin_host
from mdi.runtime import Service

from mdi_coinbase.sim import CoinbaseSimulator
from mdi_kraken.sim import KrakenSimulator

pytestmark = pytest.mark.anyio
PAIR, PRODUCT = "BTC/USD", "BTC-USD"


def make_service(lake: Path, kraken: KrakenSimulator, coinbase: CoinbaseSimulator) -> Service:
    fast = 'backoff_initial = 0.05\nbackoff_max = 0.2\nbbo = false\nbackfill_min_interval = 0.01\nbackfill_backoff_max = 0.1'
    text = f"""
[connectors.kraken]
url = "{kraken.url}"
rest_url = "{kraken.rest_url}"
{fast}
[connectors.coinbase]
url = "{coinbase.sim_url()}"
rest_url = "{coinbase.rest_url}"
{fast}
[sinks.parquet]
root = "{lake}"
flush_interval = 0.2
[http]
port = 0
"""
    return Service(assemble(parse_config(text, "backfill.toml"), build_plugin_host()))


def query(lake: Path, stream: str, sql: str) -> list[tuple[Any, ...]]:
    files = f"{lake}/v1/{stream}/**/*.parquet"
    return duckdb.sql(sql.replace("{t}", f"read_parquet('{files}', hive_partitioning=true)")).fetchall()


async def cut_and_trade(service: Service, kraken: KrakenSimulator, coinbase: CoinbaseSimulator) -> None:
    """Both connections drop; the venues trade on; the clients come back."""
    venues = service.stats.venues
    for _ in range(5):
        await kraken.publish_trades(PAIR, [("buy", "68500.1", "0.01000000")])
    await coinbase.broadcast(coinbase.trades_frame(PRODUCT, 5))
    await kraken.disconnect_all()
    await coinbase.disconnect_all()
    kraken.withhold_trades(PAIR, 80)  # 50 come back in the snapshot; REST keeps only 30 (the newest)
    for _ in range(5):
        coinbase.withhold(coinbase.trades_frame(PRODUCT, 30))  # 100 in the snapshot, 50 over REST
    await wait_for(lambda: kraken.connect_count == 2 and coinbase.connect_count == 2
                   and all(v.state in ("subscribed", "live") for v in venues.values()))
    await kraken.publish_trades(PAIR, [("sell", "68499.9", "0.02000000")])
    await coinbase.broadcast(coinbase.trades_frame(PRODUCT, 2))
    await wait_for(lambda: venues["coinbase"].gaps_repaired == 1 and venues["kraken"].gaps_unrepaired == 1)


async def test_lake_holds_every_trade_once_and_says_why_a_hole_remains(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    kraken = KrakenSimulator(heartbeat_interval=0.2)
    kraken.rest_retention = 30
    coinbase = CoinbaseSimulator()
    async with kraken, coinbase:
        service = make_service(lake, kraken, coinbase)
        async with anyio.create_task_group() as tg, httpx.AsyncClient() as client:
            await tg.start(service.run)
            await wait_for(lambda: all(v.state in ("subscribed", "live") for v in service.stats.venues.values()))
            await cut_and_trade(service, kraken, coinbase)
            assert service.health_url
            health = (await client.get(f"{service.health_url}/health")).json()
            metrics = (await client.get(f"{service.health_url}/metrics")).text
            service.request_stop()

    coinbase_made = [int(t["trade_id"]) for t in coinbase.tape[PRODUCT]]
    rows = query(lake, "trade", "SELECT venue, CAST(trade_id AS BIGINT), source FROM {t}")
    for venue in ("kraken", "coinbase"):
        ids = [r[1] for r in rows if r[0] == venue]
        assert len(ids) == len(set(ids)), f"{venue}: a trade appears twice"
    coinbase_ids = sorted(r[1] for r in rows if r[0] == "coinbase")
    assert coinbase_ids == list(range(coinbase_ids[0], coinbase_ids[0] + 157))  # every trade the venue made
    assert coinbase_ids == sorted(coinbase_made)
    assert sum(1 for r in rows if r[0] == "coinbase" and r[2] == "rest") == 50

    gaps = query(lake, "gap", "SELECT venue, expected, received, repair, repair_reason, backfilled, missing FROM {t} "
                              "WHERE channel = 'trade' ORDER BY venue")
    assert gaps[0] == ("coinbase", coinbase_ids[5], coinbase_ids[5] + 50, "repaired", "", 50, 0)
    venue, expected, received, repair, reason, backfilled, missing = gaps[1]
    assert (venue, repair, reason, backfilled, missing) == ("kraken", "unrepairable", "beyond_reach", 0, 30)
    # the only Kraken ids the lake lacks are exactly the hole its gap row describes
    kraken_ids = sorted(r[1] for r in rows if r[0] == "kraken")
    everything = set(range(kraken_ids[0], kraken_ids[-1] + 1))
    assert everything - set(kraken_ids) == set(range(expected, received))
    assert len(kraken_ids) == 5 + 50 + 1

    assert health["venues"]["coinbase"]["repairs"] == {"in_progress": 0, "queued": 0, "trades_backfilled": 50,
                                                       "repaired": 1, "partly_repaired": 0, "unrepaired": 0}
    assert health["venues"]["kraken"]["repairs"]["unrepaired"] == 1
    families = {f.name: f for f in text_string_to_metric_families(metrics)}
    backfilled = {s.labels["venue"]: s.value for s in families["mdi_venue_trades_backfilled"].samples
                  if s.name.endswith("_total")}
    assert backfilled == {"kraken": 0.0, "coinbase": 50.0}


async def test_a_stop_during_a_repair_leaves_a_shutdown_row_in_the_lake(tmp_path: Path) -> None:
    """The ordered shutdown stops connectors first; a repair cut short still writes its row."""
    lake = tmp_path / "lake"
    kraken = KrakenSimulator(heartbeat_interval=0.2)
    kraken.rest_faults.extend([503] * 10_000)  # the venue's REST API is down for good
    async with kraken:
        service = Service(assemble(parse_config(stop_config(lake, kraken), "stop.toml"), build_plugin_host()))
        async with anyio.create_task_group() as tg:
            await tg.start(service.run)
            venue = service.stats.venues["kraken"]
            await wait_for(lambda: venue.state in ("subscribed", "live"))
            await kraken.publish_trades(PAIR, [("buy", "68500.1", "0.01000000")])
            kraken.withhold_trades(PAIR, 3)
            await kraken.publish_trades(PAIR, [("buy", "68500.2", "0.01000000")])
            await wait_for(lambda: venue.repairs_in_progress == 1 and venue.backfill_requests >= 3)
            service.request_stop()
    gaps = query(lake, "gap", "SELECT repair, repair_reason, missing, repair_detail FROM {t} WHERE channel = 'trade'")
    assert [g[:3] for g in gaps] == [("unrepairable", "shutdown", 3)]
    assert "service stopped during the repair" in gaps[0][3]
    assert sorted(r[0] for r in query(lake, "trade", "SELECT source FROM {t}")) == ["ws", "ws"]


def stop_config(lake: Path, kraken: KrakenSimulator) -> str:
    return f"""
[connectors.kraken]
url = "{kraken.url}"
rest_url = "{kraken.rest_url}"
bbo = false
backfill_min_interval = 0.01
backfill_backoff_max = 0.05
backfill_retries = 10000
[sinks.parquet]
root = "{lake}"
flush_interval = 0.2
[http]
enabled = false
"""
