"""The Redis sink against a real redis-server: keys, exact values, coalescing, stream, Pub/Sub,
health. Nothing is mocked; values are read back with a separate client."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import anyio
import msgspec
import pytest
import redis.asyncio as aioredis
from redis_harness import EXPIRY_NS, SinkHarness, bbo, iv_surface, read_json, spot_mid, stream

from mdi.events import (
    BBO,
    ConnectionStatus,
    IVSurfaceSnapshot,
    MarkPrice,
    OptionTicker,
    SequenceGap,
    SpotMid,
    Trade,
    VolIndex,
)
from mdi.testing.redis_server import RedisServer

Harness = Callable[..., SinkHarness]


def mark_price(seq: int) -> MarkPrice:
    return MarkPrice(venue="binance", symbol="BTC-USDT-PERP", ts_recv=time.time_ns(), seq=seq,
                     mark_price=Decimal("67012.34000000"), index_price=Decimal("67001.10"),
                     funding_rate=Decimal("0.00010000"), next_funding_ns=1_716_825_600_000_000_000)


def dvol(seq: int) -> VolIndex:
    return VolIndex(venue="deribit", symbol="BTC", ts_recv=time.time_ns(), seq=seq,
                    index_name="btc_usd", value=Decimal("55.12"))


def trade(seq: int) -> Trade:
    return Trade(venue="coinbase", symbol="BTC-USD", ts_recv=time.time_ns(), seq=seq,
                 trade_id="627201946", price=Decimal("67000.01"), size=Decimal("0.00150000"), side="buy")


def unmapped(seq: int) -> list[Any]:
    """Kinds the sink ignores by default."""
    return [
        trade(seq),
        OptionTicker(venue="deribit", symbol="BTC-28JUN24-68000-C", ts_recv=time.time_ns(), seq=seq + 1,
                     expiry_ns=EXPIRY_NS, strike=Decimal("68000"), option_type="C", mark_iv=Decimal("52.4")),
        ConnectionStatus(venue="kraken", symbol="", ts_recv=time.time_ns(), seq=seq + 2, state="connected"),
        SequenceGap(venue="coinbase", symbol="BTC-USD", ts_recv=time.time_ns(), seq=seq + 3,
                    channel="level2", expected=10, received=12),
    ]


@pytest.mark.anyio
async def test_every_key_holds_the_exact_latest_event(harness: Harness, redis_server: RedisServer) -> None:
    h = harness(health_interval=1.0)
    events = [
        bbo("kraken", "BTC-USD", 1), bbo("coinbase", "BTC-USD", 2, bid="67001.00", ask="67001.01"),
        bbo("kraken", "BTC-USD", 3, bid="67000.50", ask="67000.60"),  # newer: replaces seq 1
        mark_price(4), dvol(5), spot_mid(6), iv_surface(7), *unmapped(8),
    ]
    h.put(*events)
    await h.run_to_end()

    r = redis_server.client()
    expected = {
        "md:v1:spot_bbo:kraken:BTC-USD": (BBO, events[2]),
        "md:v1:spot_bbo:coinbase:BTC-USD": (BBO, events[1]),
        "md:v1:mark_price:binance:BTC-USDT-PERP": (MarkPrice, events[3]),
        "md:v1:dvol:deribit": (VolIndex, events[4]),
        "md:v1:spot_mid": (SpotMid, events[5]),
        f"md:v1:iv_surface:{EXPIRY_NS // 1_000_000}": (IVSurfaceSnapshot, events[6]),
    }
    assert set(r.keys("md:v1:*")) == {*expected, "md:v1:spot_mid:window", "md:v1:health"}
    for key, (type_, event) in expected.items():
        assert read_json(r, key, type_) == event, key
        assert r.pttl(key) == -1  # key_ttl = 0: no expiry
    kraken = read_json(r, "md:v1:spot_bbo:kraken:BTC-USD")
    assert kraken == {
        "kind": "bbo", "venue": "kraken", "symbol": "BTC-USD", "seq": 3, "ts_recv": events[2].ts_recv,
        "ts_exchange": 1_716_800_000_123_000_000, "bid_px": "67000.50", "bid_sz": "0.50000000",
        "ask_px": "67000.60", "ask_sz": "1.25",
    }
    surface = read_json(r, "md:v1:iv_surface:1719561600000")
    assert (surface["atm_iv"], surface["smile"][0]["delta"]) == ("52.31", "0.52172")
    assert h.counters["events_in"] == 11
    assert h.counters["ignored"] == 4
    assert h.counters["coalesced"] == 1
    assert h.counters["writes"] == 6
    assert h.stats.state == "ok"


@pytest.mark.anyio
async def test_latest_trade_key_and_key_ttl_when_enabled(harness: Harness, redis_server: RedisServer) -> None:
    h = harness(latest_trade=True, key_ttl=30.0)
    h.put(trade(1), dvol(2))
    await h.run_to_end()
    r = redis_server.client()
    assert read_json(r, "md:v1:trade:coinbase:BTC-USD")["size"] == "0.00150000"
    assert 0 < r.pttl("md:v1:trade:coinbase:BTC-USD") <= 30_000
    assert 0 < r.pttl("md:v1:dvol:deribit") <= 30_000
    assert h.counters["ignored"] == 0


@pytest.mark.anyio
async def test_ten_thousand_bbos_for_one_key_cost_one_set(harness: Harness, redis_server: RedisServer) -> None:
    r = redis_server.client()
    r.config_resetstat()
    h = harness(pubsub=False)
    for start in range(0, 10_000, 100):
        h.put(*(bbo(seq=i + 1, ask=f"{67000 + i}.10") for i in range(start, start + 100)))
    await h.run_to_end()

    calls = {name: v["calls"] for name, v in r.info("commandstats").items()}
    assert calls["cmdstat_set"] == 1
    assert "cmdstat_publish" not in calls
    assert (h.counters["events_in"], h.counters["coalesced"], h.counters["writes"]) == (10_000, 9_999, 1)
    assert read_json(r, "md:v1:spot_bbo:kraken:BTC-USD")["ask_px"] == "76999.10"


@pytest.mark.anyio
async def test_live_burst_writes_each_key_at_most_once_per_flush(harness: Harness, redis_server: RedisServer) -> None:
    r = redis_server.client()
    r.config_resetstat()
    venues = ("kraken", "coinbase", "binance", "bitstamp")
    h = harness(flush_interval=0.05)
    async with h.running():
        seq = 0
        for _ in range(20):
            batch = []
            for _ in range(125):
                for venue in venues:
                    seq += 1
                    batch.append(bbo(venue, seq=seq))
            h.put(*batch)
            await anyio.sleep(0)
    calls = r.info("commandstats")["cmdstat_set"]["calls"]
    assert h.counters["events_in"] == 10_000
    assert calls == h.counters["writes"] <= 4 * h.counters["flushes"]
    assert h.counters["coalesced"] == 10_000 - h.counters["writes"]
    for i, venue in enumerate(venues):
        assert read_json(r, f"md:v1:spot_bbo:{venue}:BTC-USD")["seq"] == 9_997 + i


@pytest.mark.parametrize(("exact", "low", "high"), [(False, 50, 149), (True, 50, 50)])
@pytest.mark.anyio
async def test_spot_mid_window_is_bounded(harness: Harness, redis_server: RedisServer, exact: bool,
                                          low: int, high: int) -> None:
    """Every spot mid is XADDed; ``MAXLEN ~ 50`` trims whole stream nodes (100 entries by default),
    so the length stays within [50, 149]; ``window_exact`` keeps exactly 50."""
    h = harness(window_len=50, window_exact=exact)
    r = redis_server.client()
    lengths = []
    async with h.running():
        for n in range(1, 11):
            h.put(*(spot_mid(seq=i, second=i) for i in range((n - 1) * 50 + 1, n * 50 + 1)))
            await h.wait_for(lambda: h.counters["stream_adds"] == n * 50)  # noqa: B023 - awaited here
            lengths.append(r.xlen("md:v1:spot_mid:window"))
    assert all(low <= length <= high for length in lengths[1:]), lengths
    newest = stream(r, "md:v1:spot_mid:window", newest_first=True, count=50)
    assert [int(fields["seq"]) for fields in newest] == list(range(500, 450, -1))
    assert newest[0] == {"seq": "500", "ts_bucket": str((1_716_800_000 + 500) * 10**9),
                            "mid": "67000.150", "quality": "Ok"}
    if exact:
        oldest = stream(r, "md:v1:spot_mid:window", count=50)
        assert [int(fields["seq"]) for fields in oldest] == list(range(451, 501))


@pytest.mark.anyio
async def test_window_entries_beyond_its_length_are_dropped_before_writing(
    harness: Harness, redis_server: RedisServer
) -> None:
    h = harness(window_len=50, window_exact=True)
    h.put(*(spot_mid(seq=i, second=i) for i in range(1, 121)), spot_mid(seq=121, second=121, mid=None))
    await h.run_to_end()
    r = redis_server.client()
    entries = stream(r, "md:v1:spot_mid:window")
    assert [int(f["seq"]) for f in entries] == list(range(72, 122))
    assert entries[-1]["mid"] == "" and entries[-1]["quality"] == "Degraded"
    assert (h.counters["stream_adds"], h.counters["dropped"]) == (50, 71)
    assert read_json(r, "md:v1:spot_mid")["seq"] == 121


@pytest.mark.anyio
async def test_pubsub_announces_each_written_key_with_its_seq(harness: Harness, redis_server: RedisServer) -> None:
    h = harness()
    received: list[dict[str, Any]] = []
    subscriber = aioredis.from_url(redis_server.url)
    async with subscriber.pubsub() as pubsub:
        await pubsub.subscribe("md:v1:updates")
        subscribed = await pubsub.get_message(timeout=1.0)
        assert subscribed is not None and subscribed["type"] == "subscribe"
        h.put(bbo(seq=5), bbo(seq=6), mark_price(7))
        await h.run_to_end()
        with anyio.fail_after(5):
            while len(received) < 2:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    received.append(msgspec.json.decode(message["data"]))
        extra = await pubsub.get_message(timeout=0.1)
    await subscriber.aclose()
    assert received == [
        {"key": "md:v1:spot_bbo:kraken:BTC-USD", "seq": 6},
        {"key": "md:v1:mark_price:binance:BTC-USDT-PERP", "seq": 7},
    ]
    assert extra is None
    assert h.counters["publishes"] == 2


@pytest.mark.anyio
async def test_pubsub_off_publishes_nothing(harness: Harness, redis_server: RedisServer) -> None:
    r = redis_server.client()
    r.config_resetstat()
    h = harness(pubsub=False)
    h.put(bbo(seq=1), dvol(2))
    await h.run_to_end()
    assert "cmdstat_publish" not in r.info("commandstats")
    assert (h.counters["writes"], h.counters["publishes"]) == (2, 0)


@pytest.mark.anyio
async def test_health_key_is_refreshed_with_service_and_sink_state(redis_server: RedisServer) -> None:
    calls = 0

    def health() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return {"state": "running", "calls": calls, "venues": {"kraken": {"state": "live"}}}

    h = SinkHarness(redis_server.url, health=health, health_interval=0.05)
    r = redis_server.client()
    records: list[dict[str, Any]] = []

    def refreshed() -> bool:
        if r.exists("md:v1:health"):
            record = read_json(r, "md:v1:health")
            if not records or record["ts"] != records[-1]["ts"]:
                records.append(record)
        return len(records) >= 3

    async with h.running():
        await h.wait_for(refreshed)
        ttl = r.pttl("md:v1:health")
    first, last = records[0], records[-1]
    assert last["ts"] > first["ts"]
    assert last["service"]["calls"] > first["service"]["calls"] >= 1
    assert last["service"]["venues"] == {"kraken": {"state": "live"}}
    assert last["sink"]["name"] == "redis" and last["sink"]["state"] == "ok"
    assert last["sink"]["counters"]["health_writes"] >= 2
    assert 0 < ttl <= 1000  # expires after max(1 s, 3 x health_interval) if nobody refreshes it


@pytest.mark.anyio
async def test_health_record_survives_a_failing_health_callback(redis_server: RedisServer) -> None:
    def broken() -> dict[str, Any]:
        raise KeyError("venues")

    h = SinkHarness(redis_server.url, health=broken, health_interval=1.0)
    h.put(dvol(1))
    await h.run_to_end()
    record = read_json(redis_server.client(), "md:v1:health")
    assert record["service"] == {"error": "KeyError: 'venues'"}
    assert redis_server.client().get("md:v1:dvol:deribit") is not None


@pytest.mark.anyio
async def test_custom_prefix_applies_to_every_key(harness: Harness, redis_server: RedisServer) -> None:
    h = harness(prefix="test:v2", health_interval=1.0)
    h.put(spot_mid(1), bbo(seq=2))
    await h.run_to_end()
    assert set(redis_server.client().keys("*")) == {
        "test:v2:spot_mid", "test:v2:spot_mid:window", "test:v2:spot_bbo:kraken:BTC-USD", "test:v2:health",
    }


@pytest.mark.anyio
async def test_wrong_key_type_is_counted_not_retried(harness: Harness, redis_server: RedisServer) -> None:
    """A foreign non-stream value at the window key makes XADD fail: Redis answered, so the sink
    stays connected, counts the rejection, reports it, and still writes the other keys."""
    r = redis_server.client()
    r.set("md:v1:spot_mid:window", "not a stream")
    h = harness()
    h.put(spot_mid(1), bbo(seq=2))
    await h.run_to_end()
    assert h.counters["command_errors"] == 1
    assert h.counters["errors"] == 0
    assert h.stats.state == "degraded" and "WRONGTYPE" in h.stats.detail
    assert read_json(r, "md:v1:spot_mid")["seq"] == 1
    assert read_json(r, "md:v1:spot_bbo:kraken:BTC-USD")["seq"] == 2
