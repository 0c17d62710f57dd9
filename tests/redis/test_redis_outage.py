"""Redis going away must never stop mdi: absent at start, stopped mid-run, hung (SIGSTOP).

Each case uses a real redis-server taken away and brought back on the same port; the sink must
report ``degraded`` with the error, keep consuming, and write the latest values once Redis is back.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import msgspec
import pytest
from redis_harness import SinkHarness, bbo, read_json, spot_mid

from mdi.testing.redis_server import RedisServer

Harness = Callable[..., SinkHarness]


def seq_at(server: RedisServer, key: str) -> int | None:
    client = server.client()
    return int(read_json(client, key)["seq"]) if client.exists(key) else None


@pytest.mark.anyio
async def test_absent_at_start_degrades_then_recovers(absent_redis: RedisServer) -> None:
    h = SinkHarness(absent_redis.url, health_interval=0.05)
    with anyio.fail_after(2):  # open() must not block start-up (connection refused is instant)
        assert await h.sink.open(h.ctx) is None
    assert h.stats.state == "degraded"
    assert "ConnectionError" in h.stats.detail and f"127.0.0.1:{absent_redis.port}" in h.stats.detail
    async with anyio.create_task_group() as tg:
        tg.start_soon(h.sink.run, h.inbox)
        h.put(bbo(seq=1), spot_mid(2))
        await h.wait_for(lambda: h.counters["errors"] >= 2)
        assert h.counters["events_in"] == 2 and h.stats.state == "degraded"
        absent_redis.start()
        await h.wait_for(lambda: h.stats.state == "ok")
        h.inbox.close()
    assert seq_at(absent_redis, "md:v1:spot_bbo:kraken:BTC-USD") == 1
    assert seq_at(absent_redis, "md:v1:spot_mid") == 2
    assert absent_redis.client().xlen("md:v1:spot_mid:window") == 1
    assert h.counters["reconnects"] == 1
    assert read_json(absent_redis.client(), "md:v1:health")["sink"]["counters"]["events_in"] == 2


@pytest.mark.anyio
async def test_stopped_mid_run_degrades_and_resumes_with_latest_values(
    harness: Harness, redis_server: RedisServer
) -> None:
    h = harness()
    async with h.running():
        h.put(bbo("kraken", seq=1), bbo("coinbase", seq=2))
        await h.wait_for(lambda: h.counters["writes"] == 2)
        redis_server.stop()  # data is gone with it: persistence is off

        h.put(bbo("kraken", seq=3), spot_mid(4))
        await h.wait_for(lambda: h.stats.state == "degraded")
        assert "ConnectionError" in h.stats.detail
        h.put(*(bbo("kraken", seq=s) for s in range(5, 1005)))  # the loop keeps consuming
        await h.wait_for(lambda: h.counters["events_in"] == 1004)
        await h.wait_for(lambda: h.stats.queue_depth == 3)  # 2 keys + 1 window entry, not 1002 events
        assert h.counters["errors"] >= 1

        redis_server.start()
        await h.wait_for(lambda: h.stats.state == "ok")
        assert seq_at(redis_server, "md:v1:spot_bbo:kraken:BTC-USD") == 1004
        # never updated during the outage, yet rewritten: the restarted Redis had lost it
        assert seq_at(redis_server, "md:v1:spot_bbo:coinbase:BTC-USD") == 2
        assert seq_at(redis_server, "md:v1:spot_mid") == 4
        h.put(bbo("kraken", seq=2000))
        await h.wait_for(lambda: seq_at(redis_server, "md:v1:spot_bbo:kraken:BTC-USD") == 2000)
    assert h.counters["reconnects"] == 1
    assert h.counters["resynced"] == 1  # coinbase
    assert h.stats.detail == ""


@pytest.mark.anyio
async def test_hung_redis_times_out_without_stalling_the_loop(harness: Harness, redis_server: RedisServer) -> None:
    h = harness(connect_timeout=0.2, command_timeout=0.2)
    async with h.running():
        h.put(bbo(seq=1))
        await h.wait_for(lambda: h.counters["writes"] == 1)
        redis_server.pause()
        try:
            h.put(bbo(seq=2))
            await h.wait_for(lambda: h.stats.state == "degraded")
            assert "Timeout" in h.stats.detail
            for s in range(3, 103):
                h.put(bbo(seq=s))
                await anyio.sleep(0.002)
            await h.wait_for(lambda: h.counters["events_in"] == 102)
        finally:
            redis_server.resume()
        await h.wait_for(lambda: h.stats.state == "ok")
        assert seq_at(redis_server, "md:v1:spot_bbo:kraken:BTC-USD") == 102


@pytest.mark.anyio
async def test_final_flush_is_bounded_when_redis_hangs(harness: Harness, redis_server: RedisServer) -> None:
    h = harness(connect_timeout=5.0, command_timeout=5.0, final_flush_timeout=0.2)
    assert await h.sink.open(h.ctx) is None
    redis_server.pause()
    try:
        h.put(bbo(seq=1))
        h.inbox.close()
        with anyio.fail_after(3):  # not 10 s of client timeouts: the shutdown bound wins
            await h.sink.run(h.inbox)
    finally:
        redis_server.resume()
    assert h.counters["events_in"] == 1 and h.counters["writes"] == 0


@pytest.mark.anyio
async def test_keys_beyond_max_keys_are_dropped_while_redis_is_away(absent_redis: RedisServer) -> None:
    h = SinkHarness(absent_redis.url, max_keys=3)
    async with h.running():
        h.put(*(bbo(f"venue{i}", seq=i) for i in range(5)), bbo("venue0", seq=10))
        await h.wait_for(lambda: h.counters["events_in"] == 6)
        assert h.counters["dropped"] == 2
        absent_redis.start()
        await h.wait_for(lambda: h.stats.state == "ok")
    keys = sorted(absent_redis.client().keys("md:v1:spot_bbo:*"))
    assert keys == [f"md:v1:spot_bbo:venue{i}:BTC-USD" for i in range(3)]
    assert seq_at(absent_redis, "md:v1:spot_bbo:venue0:BTC-USD") == 10


@pytest.mark.anyio
async def test_open_against_a_hung_redis_returns_within_connect_timeout(
    harness: Harness, redis_server: RedisServer
) -> None:
    h = harness(connect_timeout=0.2, command_timeout=5.0)
    redis_server.pause()
    try:
        with anyio.fail_after(2):  # start-up is not held for command_timeout
            assert await h.sink.open(h.ctx) is None
    finally:
        redis_server.resume()
    assert h.stats.state == "degraded" and "TimeoutError" in h.stats.detail
    async with anyio.create_task_group() as tg:
        tg.start_soon(h.sink.run, h.inbox)
        h.put(bbo(seq=9))
        await h.wait_for(lambda: h.stats.state == "ok")
        h.inbox.close()
    assert seq_at(redis_server, "md:v1:spot_bbo:kraken:BTC-USD") == 9


@pytest.mark.anyio
async def test_resync_skips_values_older_than_key_ttl(harness: Harness, redis_server: RedisServer) -> None:
    h = harness(key_ttl=5.0)
    stale = msgspec.structs.replace(bbo("coinbase", seq=1), ts_recv=time.time_ns() - 60 * 10**9)
    async with h.running():
        h.put(stale, bbo("binance", seq=2))
        await h.wait_for(lambda: h.counters["writes"] == 2)
        redis_server.stop()
        h.put(bbo("kraken", seq=3))
        await h.wait_for(lambda: h.stats.state == "degraded")
        redis_server.start()
        await h.wait_for(lambda: h.stats.state == "ok")
    assert seq_at(redis_server, "md:v1:spot_bbo:kraken:BTC-USD") == 3
    assert seq_at(redis_server, "md:v1:spot_bbo:binance:BTC-USD") == 2  # fresh: rewritten
    assert seq_at(redis_server, "md:v1:spot_bbo:coinbase:BTC-USD") is None  # older than key_ttl
    assert 0 < redis_server.client().pttl("md:v1:spot_bbo:binance:BTC-USD") <= 5000
    assert h.counters["resynced"] == 1
