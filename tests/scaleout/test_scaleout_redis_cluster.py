"""``[sinks.redis] cluster = true`` against a real 6-node Redis Cluster on loopback: keys carry
the instance's hash tag, Pub/Sub works from the cluster pipeline, and after a master is killed
(SIGKILL) the sink's writes resume once its replica is promoted."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import anyio
import pytest

from mdi.testing.redis_cluster import RedisClusterRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "redis"))
from redis_harness import SinkHarness, bbo, read_json, spot_mid  # noqa: E402

PREFIX = "md:v1:{shard-a}"


def harness(cluster: RedisClusterRunner, **overrides: object) -> SinkHarness:
    h = SinkHarness(cluster.url, cluster=True, health_interval=0.2, **overrides)
    h.ctx.instance = "shard-a"
    return h


@pytest.mark.anyio
async def test_keys_carry_the_instance_hash_tag_and_pubsub_reaches_subscribers(redis_cluster: RedisClusterRunner) -> None:
    client = redis_cluster.client()
    pubsub = client.pubsub()
    pubsub.subscribe("md:v1:updates")
    h = harness(redis_cluster)
    async with h.running():
        h.put(bbo(seq=1), bbo(venue="coinbase", seq=2), spot_mid(seq=3))
        await h.wait_for(lambda: h.counters["publishes"] >= 3 and h.counters["health_writes"] >= 1)
    assert h.stats.state == "ok" and h.counters["command_errors"] == 0
    assert read_json(client, f"{PREFIX}:spot_bbo:kraken:BTC-USD")["seq"] == 1
    assert read_json(client, f"{PREFIX}:spot_bbo:coinbase:BTC-USD")["seq"] == 2
    assert client.xlen(f"{PREFIX}:spot_mid:window") == 1
    assert read_json(client, f"{PREFIX}:health")["sink"]["name"] == "redis"
    slots = {client.keyslot(k) for k in (f"{PREFIX}:spot_mid", f"{PREFIX}:health", f"{PREFIX}:spot_bbo:kraken:BTC-USD")}
    assert len(slots) == 1  # one instance's keys: one slot, one master per flush
    got: list[str] = []
    deadline = time.monotonic() + 10
    while len(got) < 3 and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.5)
        if message and message["type"] == "message":
            got.append(message["data"])
    pubsub.close()
    assert sorted(got) == sorted([
        f'{{"key":"{PREFIX}:spot_bbo:kraken:BTC-USD","seq":1}}',
        f'{{"key":"{PREFIX}:spot_bbo:coinbase:BTC-USD","seq":2}}',
        f'{{"key":"{PREFIX}:spot_mid","seq":3}}',
    ])


@pytest.mark.anyio
async def test_writes_resume_after_the_master_is_killed_and_its_replica_promoted(
    redis_cluster: RedisClusterRunner,
) -> None:
    key = f"{PREFIX}:spot_bbo:kraken:BTC-USD"
    client = redis_cluster.client()
    h = harness(redis_cluster)
    seq = 0
    async with h.running():

        async def feed_until(condition: object, timeout: float) -> None:
            nonlocal seq
            with anyio.fail_after(timeout):
                while not condition():  # type: ignore[operator]
                    seq += 1
                    h.put(bbo(seq=seq))
                    await anyio.sleep(0.02)

        await feed_until(lambda: h.counters["writes"] >= 5, 10)
        master = redis_cluster.master_of(key)
        killed_at = time.monotonic()
        redis_cluster.kill(master)
        await feed_until(lambda: h.stats.state == "degraded", 15)
        await anyio.to_thread.run_sync(redis_cluster.wait_healthy)  # a replica took over
        promoted_after = time.monotonic() - killed_at
        mark = seq
        await feed_until(lambda: h.stats.state == "ok" and h.counters["writes"] > 0 and _seq(client, key) > mark, 20)
        resumed_after = time.monotonic() - killed_at
    print(f"\nfailover: promoted {promoted_after:.1f} s, writes resumed {resumed_after:.1f} s after the kill")
    assert h.counters["reconnects"] >= 1
    assert _seq(client, key) == seq  # the final flush wrote the newest value
    redis_cluster.restart(master)  # back to 3 masters + 3 replicas for the next test


def _seq(client: object, key: str) -> int:
    try:
        return int(read_json(client, key)["seq"])  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - the slot may be between masters for a moment
        return 0
