"""Coinbase gap repair end to end: CoinbaseConnector against CoinbaseSimulator, whose public
market trades endpoint shares the WebSocket's loopback port."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import AsyncIterator

import anyio
import pytest
from backfill_support import FAST, Run, contiguous, wait_for

from mdi.events import Trade
from mdi.timeutil import parse_rfc3339_ns

from mdi_coinbase.config import CoinbaseConfig
from mdi_coinbase.connector import CoinbaseConnector
from mdi_coinbase.rest import CoinbaseRest
from mdi_coinbase.sim import CoinbaseSimulator

pytestmark = pytest.mark.anyio
PRODUCT = "BTC-USD"


@pytest.fixture
async def sim() -> AsyncIterator[CoinbaseSimulator]:
    simulator = CoinbaseSimulator()
    simulator.heartbeat_interval = 0.2
    async with simulator:
        yield simulator


def run(sim: CoinbaseSimulator, **overrides: object) -> Run:
    settings = {**FAST, "url": sim.sim_url(), "rest_url": sim.rest_url, "bbo": False, **overrides}
    return Run(CoinbaseConnector(CoinbaseConfig(**settings)), "coinbase")  # type: ignore[arg-type]


def trades_of(frame: str) -> list[dict[str, object]]:
    return list(json.loads(frame)["events"][0]["trades"])


async def test_cut_connection_sim_keeps_trading_every_trade_once(sim: CoinbaseSimulator) -> None:
    """Trades broadcast while the client is away are remembered by the venue; after the
    reconnect the 100-trade snapshot holds the newest, REST the older ones."""
    r = run(sim)
    async with r.running():
        await sim.broadcast(sim.trades_frame(PRODUCT, 3))
        await wait_for(lambda: len(r.of(Trade)) == 3)
        await sim.disconnect_all()
        away = [sim.trades_frame(PRODUCT, 30) for _ in range(5)]  # 150 trades nobody receives
        for frame in away:
            sim.withhold(frame)
        await wait_for(lambda: sim.connect_count == 2 and r.stats.state in ("subscribed", "live"))
        await sim.broadcast(sim.trades_frame(PRODUCT, 2))
        await wait_for(lambda: len(r.trade_gaps()) == 1 and len(r.of(Trade)) == 155)
    ids = r.trade_ids()
    assert len(ids) == len(set(ids)) == 155 and contiguous(sorted(ids))
    (gap,) = r.trade_gaps()
    assert (gap.repair, gap.repair_reason, gap.backfilled, gap.missing) == ("repaired", "", 50, 0)
    assert sum(t.source == "rest" for t in r.of(Trade)) == 50 and r.stats.gaps_repaired == 1
    # exact strings and the maker->taker side inversion hold for REST rows as for the stream
    made = {str(t["trade_id"]): t for f in away for t in trades_of(f)}
    for trade in (t for t in r.of(Trade) if t.source == "rest"):
        wire = made[trade.trade_id]
        assert trade.price == Decimal(str(wire["price"])) and trade.size == Decimal(str(wire["size"]))
        assert trade.side == {"BUY": "sell", "SELL": "buy"}[str(wire["side"])]
        assert trade.ts_exchange == parse_rfc3339_ns(str(wire["time"]))
    path, _, query = sim.rest_requests[0].partition("?")
    assert path == "/api/v3/brokerage/market/products/BTC-USD/ticker" and query.startswith("limit=1000&start=")


async def test_bad_request_is_a_venue_error_row(sim: CoinbaseSimulator) -> None:
    r = run(sim)
    sim.rest_faults.append(400)  # not retried: asking again would not help
    async with r.running():
        await sim.broadcast(sim.trades_frame(PRODUCT, 1))
        sim.withhold(sim.trades_frame(PRODUCT, 4))
        await sim.broadcast(sim.trades_frame(PRODUCT, 1))
        await wait_for(lambda: len(r.trade_gaps()) == 1)
    (gap,) = r.trade_gaps()
    assert (gap.repair, gap.repair_reason, gap.missing) == ("unrepairable", "venue_error", 4)
    assert "HTTP 400" in gap.repair_detail and len(sim.rest_requests) == 1


async def test_rate_limit_then_success_is_repaired(sim: CoinbaseSimulator) -> None:
    r = run(sim, backfill_retries=2)
    sim.rest_faults.append(429)
    async with r.running():
        await sim.broadcast(sim.trades_frame(PRODUCT, 1))
        sim.withhold(sim.trades_frame(PRODUCT, 4))
        await sim.broadcast(sim.trades_frame(PRODUCT, 1))
        await wait_for(lambda: len(r.trade_gaps()) == 1)
    (gap,) = r.trade_gaps()
    assert (gap.repair, gap.backfilled) == ("repaired", 4) and r.stats.backfill_requests == 2


async def test_full_pages_walk_back_in_time(sim: CoinbaseSimulator) -> None:
    """More trades in the window than one page holds: ``end`` moves back until the hole is full."""
    r = run(sim)
    assert r.connector.backfiller is not None and isinstance(r.connector.backfiller.source, CoinbaseRest)
    r.connector.backfiller.source.page_size = 40
    async with r.running():
        await sim.broadcast(sim.trades_frame(PRODUCT, 1))
        for _ in range(3):
            sim.withhold(sim.trades_frame(PRODUCT, 30))
            await anyio.sleep(1.0 - (time.time() % 1.0) + 0.01)  # into the next second
        await sim.broadcast(sim.trades_frame(PRODUCT, 1))
        await wait_for(lambda: len(r.trade_gaps()) == 1, timeout=20)
    (gap,) = r.trade_gaps()
    assert (gap.repair, gap.backfilled, gap.missing) == ("repaired", 90, 0)
    assert len(sim.rest_requests) >= 3
    ids = r.trade_ids()
    assert len(ids) == len(set(ids)) == 92

