"""Kraken gap repair end to end: KrakenConnector against KrakenSimulator, whose REST endpoint
(``GET /0/public/Trades``) shares the WebSocket's loopback port."""

from __future__ import annotations

from decimal import Decimal

import pytest
from backfill_support import KRAKEN_PAIR, contiguous, kraken_run, kraken_sim, wait_for  # noqa: F401 (kraken_sim: the `sim` fixture)

from mdi.events import Trade
from mdi.timeutil import parse_rfc3339_ns
from mdi_kraken.sim import KrakenSimulator

pytestmark = pytest.mark.anyio
PAIR = KRAKEN_PAIR
run = kraken_run


async def one_trade(sim: KrakenSimulator) -> None:
    await sim.publish_trades(PAIR, [("buy", "68500.1", "0.01000000")])


async def test_withheld_trades_are_fetched_once_exactly_with_source_rest(sim: KrakenSimulator) -> None:
    r = run(sim)
    async with r.running():
        await one_trade(sim)
        withheld = sim.withhold_trades(PAIR, 5)
        await one_trade(sim)
        await wait_for(lambda: len(r.trade_gaps()) == 1)
    first_id = withheld[0]["trade_id"] - 1
    # the two streamed trades, then the five fetched ones, oldest first
    assert r.trade_ids() == [first_id, first_id + 6, *range(first_id + 1, first_id + 6)]
    assert [t.source for t in r.of(Trade)] == ["ws", "ws"] + ["rest"] * 5
    rest = [t for t in r.of(Trade) if t.source == "rest"]
    # exact values from the REST text: price, size, side, venue time to the microsecond
    for trade, made in zip(rest, withheld):
        assert (trade.price, trade.size, trade.side, trade.symbol) == (made["price"], Decimal("0.001"), "buy", "BTC-USD")
        assert trade.ts_exchange == parse_rfc3339_ns(made["timestamp"])
    (gap,) = r.trade_gaps()
    assert (gap.repair, gap.repair_reason, gap.backfilled, gap.missing) == ("repaired", "", 5, 0)
    assert (gap.expected, gap.received) == (withheld[0]["trade_id"], withheld[-1]["trade_id"] + 1)
    assert r.stats.backfilled == 5 and r.stats.gaps_repaired == 1 and r.stats.backfill_requests == 1
    assert r.stats.repairs_in_progress == 0 and r.stats.repairs_queued == 0
    assert sim.rest_requests[0].startswith("/0/public/Trades?pair=XBTUSD&since=")


async def test_cut_connection_sim_keeps_trading_every_trade_once(sim: KrakenSimulator) -> None:
    """More trades than the 50-trade snapshot happen while the client is away: the snapshot
    overlaps what was seen (de-duplicated), REST fills the rest, nothing appears twice."""
    r = run(sim)
    async with r.running():
        for _ in range(10):
            await one_trade(sim)
        await wait_for(lambda: len(r.of(Trade)) == 10)
        await sim.disconnect_all()
        sim.withhold_trades(PAIR, 120)  # traded while the connection is down
        await wait_for(lambda: sim.connect_count == 2 and r.stats.state in ("subscribed", "live"))
        await one_trade(sim)
        await wait_for(lambda: len(r.trade_gaps()) == 1 and len(r.of(Trade)) == 131)
    ids = r.trade_ids()
    assert len(ids) == len(set(ids)) == 131 and contiguous(sorted(ids))
    (gap,) = r.trade_gaps()
    assert (gap.repair, gap.backfilled, gap.missing) == ("repaired", 70, 0)  # 50 came in the snapshot
    assert sum(t.source == "rest" for t in r.of(Trade)) == 70


async def test_rate_limited_hole_is_a_gap_row_saying_so(sim: KrakenSimulator) -> None:
    r = run(sim, backfill_retries=1)
    sim.rest_faults.extend([429, 429])  # Kraken's "EGeneral:Too many requests", twice
    async with r.running():
        await one_trade(sim)
        sim.withhold_trades(PAIR, 3)
        await one_trade(sim)
        await wait_for(lambda: len(r.trade_gaps()) == 1)
    (gap,) = r.trade_gaps()
    assert (gap.repair, gap.repair_reason, gap.backfilled, gap.missing) == ("unrepairable", "rate_limited", 0, 3)
    assert "EGeneral:Too many requests" in gap.repair_detail
    assert r.stats.backfill_requests == 2 and r.stats.gaps_unrepaired == 1 and r.stats.backfilled == 0


async def test_venue_errors_are_retried_then_repaired(sim: KrakenSimulator) -> None:
    r = run(sim, backfill_retries=3)
    sim.rest_faults.extend([503, 500])
    async with r.running():
        await one_trade(sim)
        sim.withhold_trades(PAIR, 4)
        await one_trade(sim)
        await wait_for(lambda: len(r.trade_gaps()) == 1)
    (gap,) = r.trade_gaps()
    assert (gap.repair, gap.backfilled) == ("repaired", 4)
    assert r.stats.backfill_requests == 3 and len(sim.rest_requests) == 3


async def test_hole_older_than_the_api_keeps_is_partly_repaired_beyond_reach(sim: KrakenSimulator) -> None:
    sim.rest_retention = 20  # the REST API remembers only the last 20 trades
    r = run(sim)
    async with r.running():
        await one_trade(sim)
        sim.withhold_trades(PAIR, 60)
        await one_trade(sim)
        await wait_for(lambda: len(r.trade_gaps()) == 1)
    (gap,) = r.trade_gaps()
    # REST keeps the newest 20 trades: 19 of the hole and the one after it
    assert (gap.repair, gap.repair_reason, gap.backfilled, gap.missing) == ("partly_repaired", "beyond_reach", 19, 41)
    assert "nothing as old as trade id" in gap.repair_detail
    ids = r.trade_ids()
    assert len(ids) == len(set(ids)) == 21 and contiguous(sorted(ids)[1:])


async def test_hole_past_max_lookback_is_not_requested(sim: KrakenSimulator) -> None:
    r = run(sim, backfill_max_lookback=1e-9)
    async with r.running():
        await one_trade(sim)
        sim.skip_trade_ids(PAIR, 2)
        await one_trade(sim)
        await wait_for(lambda: len(r.trade_gaps()) == 1)
    (gap,) = r.trade_gaps()
    assert (gap.repair, gap.repair_reason, gap.missing) == ("unrepairable", "beyond_reach", 2)
    assert "backfill_max_lookback" in gap.repair_detail and sim.rest_requests == []


async def test_request_budget_limits_a_large_hole(sim: KrakenSimulator) -> None:
    r = run(sim, backfill_max_requests=1, trade_snapshot=False)
    async with r.running():
        await one_trade(sim)
        sim.withhold_trades(PAIR, 1500)
        await one_trade(sim)
        await wait_for(lambda: len(r.trade_gaps()) == 1)
    (gap,) = r.trade_gaps()
    # one page of 1000 rows: the trade before the hole and 999 of it
    assert (gap.repair, gap.repair_reason, gap.backfilled, gap.missing) == ("partly_repaired", "request_budget", 999, 501)
    assert len(sim.rest_requests) == 1


async def test_backfill_off_writes_the_gap_at_once(sim: KrakenSimulator) -> None:
    r = run(sim, backfill=False)
    async with r.running():
        await one_trade(sim)
        sim.withhold_trades(PAIR, 2)
        await one_trade(sim)
        await wait_for(lambda: len(r.trade_gaps()) == 1)
    (gap,) = r.trade_gaps()
    assert (gap.repair, gap.repair_reason, gap.missing) == ("not_attempted", "backfill_off", 2)
    assert sim.rest_requests == []
