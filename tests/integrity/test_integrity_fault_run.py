"""A fault run (issue #11, "Done when"): venues that send NaN, Infinity, negative and placeholder
values in the middle of a run, through the real service (Kraken and Coinbase simulators on
loopback, the real connectors, router and Parquet sink), the lake read back with DuckDB.

No invalid value becomes an event, the service stays up, every valid event is in the lake, and
every refused value is a ``rejected`` row carrying the raw frame.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pytest

from mdi.config import parse_config
from mdi.graph import assemble
from mdi.plugins import build_plugin_host
from mdi.runtime import Service
from mdi_coinbase.sim import CoinbaseSimulator
from mdi_kraken.sim import KrakenSimulator, rfc3339_now

pytestmark = pytest.mark.anyio


def kraken_trades(sim: KrakenSimulator, trades: list[tuple[str, str]]) -> str:
    """A Kraken ``trade`` update whose prices and quantities are the given JSON number texts."""
    items = []
    for price, qty in trades:
        trade_id = sim.next_trade_id.get("BTC/USD", 70635251)
        sim.next_trade_id["BTC/USD"] = trade_id + 1
        items.append(
            f'{{"symbol":"BTC/USD","side":"buy","price":{price},"qty":{qty},"ord_type":"limit",'
            f'"trade_id":{trade_id},"timestamp":"{rfc3339_now()}"}}'
        )
    return '{"channel":"trade","type":"update","data":[' + ",".join(items) + "]}"


KRAKEN_EPOCH_TICKER = (
    '{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":0,"bid_qty":0,"ask":0,'
    '"ask_qty":0,"last":0,"volume":0,"vwap":0,"low":0,"high":0,"change":0,"change_pct":0,'
    '"timestamp":"1970-01-01T00:00:00.000000Z"}]}'
)


def coinbase_trades(trades: list[tuple[str, str, str]]) -> str:
    """A Coinbase ``market_trades`` update; prices and sizes are strings, as Coinbase sends them."""
    items = [
        {"trade_id": trade_id, "product_id": "BTC-USD", "price": price, "size": size, "side": "BUY", "time": rfc3339_now()}
        for trade_id, price, size in trades
    ]
    return json.dumps({"channel": "market_trades", "timestamp": rfc3339_now(), "events": [{"type": "update", "trades": items}]})


def config(tmp: Path, kraken: str, coinbase: str) -> str:
    return f"""
[connectors.kraken]
url = "{kraken}"
[connectors.coinbase]
url = "{coinbase}"
[sinks.parquet]
root = "{tmp / 'lake'}"
[http]
enabled = false
"""


def lake(tmp: Path, stream: str, columns: str) -> list[tuple[Any, ...]]:
    v1 = tmp / "lake" / "v1" / stream
    if not v1.exists():
        return []
    return duckdb.connect().execute(
        f"SELECT {columns} FROM read_parquet('{v1}/**/*.parquet', hive_partitioning=true) ORDER BY seq"
    ).fetchall()


async def wait_for(condition: Any, timeout: float = 30.0) -> None:
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.02)


async def test_bad_values_mid_run_are_rejected_and_every_good_event_is_in_the_lake(tmp_path: Path) -> None:
    async with KrakenSimulator() as kraken, CoinbaseSimulator() as coinbase:
        graph = assemble(parse_config(config(tmp_path, kraken.sim_url(), coinbase.sim_url())), build_plugin_host())
        service = Service(graph)
        async with anyio.create_task_group() as tg:
            await tg.start(service.run)
            venues = service.stats.venues
            await wait_for(lambda: set(venues) == {"kraken", "coinbase"} and all(v.state == "live" for v in venues.values()))
            await wait_for(lambda: kraken.subscribers and coinbase.subscribers)
            start = {name: v.events for name, v in venues.items()}
            # Kraken: negative price, negative and zero size, a huge exponent, each beside a good trade.
            await kraken.broadcast(kraken_trades(kraken, [("68000.1", "0.5"), ("-68000.1", "0.5")]))
            await kraken.broadcast(kraken_trades(kraken, [("68000.2", "-0.5"), ("68000.3", "0")]))
            await kraken.broadcast(kraken_trades(kraken, [("1E+400", "0.1"), ("68000.4", "0.25")]))
            await kraken.broadcast(KRAKEN_EPOCH_TICKER)  # 0/0 at 1970: not a BBO, no latency sample
            await kraken.broadcast(kraken.ticker_frame("BTC/USD"))
            # Coinbase: NaN, Infinity, negative price, negative size; then good trades go on.
            await coinbase.broadcast(coinbase_trades([("900001", "NaN", "0.1"), ("900002", "97000.01", "0.1")]))
            await coinbase.broadcast(coinbase_trades([("900003", "Infinity", "0.1"), ("900004", "-97000", "0.1")]))
            await coinbase.broadcast(coinbase_trades([("900005", "97000.02", "-0.1"), ("900006", "97000.03", "0.2")]))
            await wait_for(lambda: sum(venues["kraken"].invalid.values()) == 5 and sum(venues["coinbase"].invalid.values()) == 4)
            await wait_for(lambda: venues["kraken"].events - start["kraken"] >= 3 + 5 + 1)
            assert service.stats.state == "running"
            assert all(v.state == "live" for v in venues.values())
            assert all(s.state == "ok" for s in service.stats.sinks.values())
            counted = {name: v.events for name, v in venues.items()}
            service.request_stop()
        invalid = {name: dict(v.invalid) for name, v in venues.items()}
        latency = venues["kraken"].exchange_latency
    assert invalid == {
        "kraken": {"not_positive": 3, "out_of_range": 1, "placeholder_quote": 1},
        "coinbase": {"non_finite": 2, "not_positive": 2},
    }
    assert latency.counts[-1] == 0  # no 1.8e9-second sample from the 1970 placeholder ticker

    trades = lake(tmp_path, "trade", "venue, trade_id, price, size")
    assert all(price > 0 and size > 0 for _, _, price, size in trades), trades
    good = {(v, p, s) for v, _, p, s in trades}
    for expected in [("kraken", "68000.1", "0.5"), ("kraken", "68000.4", "0.25"),
                     ("coinbase", "97000.01", "0.1"), ("coinbase", "97000.03", "0.2")]:
        assert (expected[0], Decimal(expected[1]), Decimal(expected[2])) in good
    bbos = lake(tmp_path, "bbo", "venue, bid_px, ask_px")
    assert bbos and all(bid > 0 and ask > 0 for _, bid, ask in bbos)

    rejected = lake(tmp_path, "rejected", "venue, reason, field, value, raw")
    assert sorted((v, r, f, val) for v, r, f, val, _ in rejected) == sorted([
        ("kraken", "not_positive", "price", "-68000.1"), ("kraken", "not_positive", "qty", "-0.5"),
        ("kraken", "not_positive", "qty", "0"), ("kraken", "out_of_range", "price", "1E+400"),
        ("kraken", "placeholder_quote", "bid", "0/0"),
        ("coinbase", "non_finite", "price", "NaN"), ("coinbase", "non_finite", "price", "Infinity"),
        ("coinbase", "not_positive", "price", "-97000"), ("coinbase", "not_positive", "size", "-0.1"),
    ])
    for _, _, _, value, raw in rejected:  # the raw frame is kept: the audit trail has the source
        assert raw.startswith("{") and (value in raw or value == "0/0")
    # Every event a connector counted is a row (status rows are the runtime's, not counted).
    rows = {name: 0 for name in counted}
    for stream in ("trade", "bbo", "gap", "rejected"):
        for (venue,) in lake(tmp_path, stream, "venue"):
            rows[venue] += 1
    assert rows == counted
