"""The Coinbase connector against the simulator over real WebSockets, with both transports."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest

from mdi.events import BBO, ConnectionStatus, SequenceGap, Trade

from coinbase_testkit import Harness, fast_config, frame, frames, wait_for
from mdi_coinbase.sim import CoinbaseSimulator

pytestmark = pytest.mark.anyio

SESSION = frames("session_btcusd.jsonl")
SNAPSHOTS = [SESSION[0], SESSION[2]]  # the ticker and the 5 trades the sim sends on subscribe
UPDATES = [SESSION[i] for i in (5, 6, 8, 9, 11)]
SUBSCRIBES = [
    '{"type":"subscribe","channel":"ticker","product_ids":["BTC-USD"]}',
    '{"type":"subscribe","channel":"market_trades","product_ids":["BTC-USD"]}',
    '{"type":"subscribe","channel":"heartbeats"}',
]


@pytest.fixture(params=["httpx-ws", "picows"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def primed_sim(heartbeat_interval: float = 0.1) -> CoinbaseSimulator:
    """A simulator whose snapshots are the recorded ones (remembered from a broadcast)."""
    sim = CoinbaseSimulator()
    sim.heartbeat_interval = heartbeat_interval
    await sim.replay(SNAPSHOTS)  # nobody is subscribed yet: only remembered
    return sim


def live(h: Harness) -> bool:
    return h.stats.state == "live"


def states(h: Harness) -> list[str]:
    return [e.state for e in h.of(ConnectionStatus)]


async def test_normal_flow_exact_values(transport: str) -> None:
    h = Harness(fast_config(), transport)
    sim = await primed_sim()
    async with h.running(sim):
        await wait_for(lambda: live(h))
        await sim.replay(UPDATES)
        await wait_for(lambda: len(h.of(Trade)) == 10 and len(h.of(BBO)) == 4)
        await wait_for(lambda: h.connector.heartbeats >= 2)
    assert sim.received == SUBSCRIBES
    bbos = [(b.bid_px, b.bid_sz, b.ask_px, b.ask_sz, b.ts_exchange) for b in h.of(BBO)]
    assert bbos[0] == (Decimal("97412.34"), Decimal("0.41500000"), Decimal("97412.35"), Decimal("0.0102"), bbos[0][4])
    assert bbos[1:] == [
        (Decimal("97412.34"), Decimal("0.39800000"), Decimal("97412.35"), Decimal("0.00007299"), 1_791_969_667_301_947_000),
        (Decimal("97412.35"), Decimal("0.00420000"), Decimal("97412.36"), Decimal("1.20531442"), 1_791_969_668_020_611_852),
        (Decimal("97412.1"), Decimal("0.5"), Decimal("97412.36"), Decimal("1.15031442"), 1_791_969_669_133_907_425),
    ]
    trades = h.of(Trade)
    assert [t.trade_id for t in trades] == [str(i) for i in range(1131400801, 1131400811)]
    assert (trades[0].price, trades[0].size, trades[0].side) == (Decimal("97412"), Decimal("1"), "buy")
    assert (trades[-1].price, trades[-1].size, trades[-1].side) == (Decimal("97412.35"), Decimal("0.00420000"), "sell")
    assert h.stats.gaps == 0 and h.stats.parse_errors == 0 and h.stats.duplicates == 0
    assert h.connector.ignored["heartbeat_repeat"] == 0
    assert states(h)[:3] == ["connecting", "connected", "subscribed"]
    subscribed = h.of(ConnectionStatus)[2]
    assert subscribed.detail == "heartbeats,market_trades:BTC-USD,ticker:BTC-USD" and subscribed.symbol == "*"


async def test_reconnect_resubscribes_and_deduplicates_trades(transport: str) -> None:
    h = Harness(fast_config(), transport)
    sim = await primed_sim()
    async with h.running(sim):
        await wait_for(lambda: live(h))
        await sim.replay(UPDATES)
        await wait_for(lambda: len(h.of(Trade)) == 10)
        await sim.disconnect_all()
        await wait_for(lambda: sim.connect_count == 2 and len(sim.received) == 6 and live(h))
        # the new connection's market_trades snapshot repeats all 10 trades: none emitted again
        await wait_for(lambda: h.stats.duplicates == 10)
        again = json.loads(frame("market_trades_snapshot_after_reconnect.json"))
        again["events"][0]["type"] = "update"
        await sim.broadcast(json.dumps(again))
        await wait_for(lambda: len(h.of(Trade)) == 11)
    assert sim.received == SUBSCRIBES * 2
    assert [t.trade_id for t in h.of(Trade)] == [str(i) for i in range(1131400801, 1131400812)]
    assert h.stats.duplicates == 12
    assert h.stats.reconnects >= 1 and h.stats.gaps == 0
    assert states(h).count("subscribed") == 2 and "disconnected" in states(h)


async def test_stale_without_data_while_heartbeats_continue(transport: str) -> None:
    h = Harness(fast_config(stale_after=0.6), transport)
    sim = await primed_sim(heartbeat_interval=0.1)
    async with h.running(sim):
        await wait_for(lambda: live(h))
        sim.stalled = True
        beats = h.connector.heartbeats
        await wait_for(lambda: "stale" in states(h) and sim.connect_count >= 2, timeout=15)
        assert h.connector.heartbeats > beats + 2  # heartbeats kept coming: they are not data
        sim.stalled = False
        # generous: a connection opened while stalled may first have to time out its acks
        await wait_for(lambda: live(h) and sim.connect_count >= 2, timeout=15)
        await sim.replay(UPDATES[:1])
        # every (re)connection's snapshot is a BBO too: wait for the update's own values
        await wait_for(lambda: any(b.ask_sz == Decimal("0.00007299") for b in h.of(BBO)), timeout=15)
    # the reconnect was caused by staleness (a later connection may have failed for another reason)
    assert any(e.state == "stale" and e.detail == "no data for 0.6s" for e in h.of(ConnectionStatus))


async def test_garbage_counted_and_connection_stays_up(transport: str) -> None:
    h = Harness(fast_config(), transport)
    sim = await primed_sim()
    async with h.running(sim):
        await wait_for(lambda: live(h))
        await sim.send_raw("CloudFlare WebSocket proxy restarting")
        await sim.send_raw(b"\x00\xff\xfe")
        await sim.send_raw('{"channel":"ticker","events":[{"tickers":[{"product_id":"BTC-USD","best_bid":"",'
                           '"best_bid_quantity":"1","best_ask":"2","best_ask_quantity":"1"}]}]}')
        await sim.send_raw("[]")
        await sim.replay(UPDATES[:1])
        await wait_for(lambda: len(h.of(BBO)) == 2)
    assert h.stats.parse_errors == 4
    assert sim.connect_count == 1 and h.stats.reconnects == 0
    assert h.of(BBO)[-1].bid_sz == Decimal("0.39800000")


async def test_rejected_subscription(transport: str, caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(fast_config(), transport)
    sim = await primed_sim()
    sim.reject = {"ticker:BTC-USD"}
    with caplog.at_level(logging.ERROR, logger="test.coinbase"):
        async with h.running(sim):
            await wait_for(lambda: live(h))
            await sim.replay(UPDATES[:2])
            await wait_for(lambda: len(h.of(Trade)) == 7)
    assert h.stats.rejected == ["ticker:BTC-USD: Failed to subscribe: ticker:BTC-USD"]
    assert h.stats.sub_rejections == 1
    assert h.stats.last_error == "subscription rejected: ticker:BTC-USD: Failed to subscribe: ticker:BTC-USD"
    assert any(r.levelno == logging.ERROR and r.message == "subscription rejected" for r in caplog.records)
    assert h.of(BBO) == []  # the sim sends tickers only to ticker subscribers
    subscribed = [e for e in h.of(ConnectionStatus) if e.state == "subscribed"]
    assert subscribed[0].detail == "heartbeats,market_trades:BTC-USD"


async def test_sequence_and_heartbeat_gaps(transport: str) -> None:
    h = Harness(fast_config(), transport)
    sim = await primed_sim(heartbeat_interval=0.1)
    async with h.running(sim):
        await wait_for(lambda: live(h) and h.connector.heartbeats >= 1)
        sim.skip_sequence(3)
        await sim.replay(UPDATES[:1])
        await wait_for(lambda: len(h.of(SequenceGap)) == 1)
        sim.skip_heartbeats(2)
        await wait_for(lambda: len(h.of(SequenceGap)) == 2)
        beats = h.connector.heartbeats
        await sim.send_heartbeat()  # the last counter once more: Coinbase does this
        await wait_for(lambda: h.connector.heartbeats > beats and h.connector.ignored["heartbeat_repeat"] >= 1)
        await sim.replay(UPDATES[1:2])
        await wait_for(lambda: len(h.of(Trade)) == 7)
    connection, heartbeats = h.of(SequenceGap)
    assert (connection.channel, connection.received - connection.expected) == ("connection", 3)
    assert (heartbeats.channel, heartbeats.received - heartbeats.expected) == ("heartbeats", 2)
    assert h.stats.gaps == 2  # the repeated counter is not a gap
