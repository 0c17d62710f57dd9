"""Operations end to end: /health and /metrics over real HTTP while a real venue simulator
disconnects and stalls, Redis goes away and comes back, and the Parquet lake stops being
writable and recovers; nothing accepted is lost from the lake."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

import anyio
import duckdb
import httpx
import pytest
from mdi_kraken.sim import KrakenSimulator
from prometheus_client.parser import text_string_to_metric_families

from mdi.config import parse_config
from mdi.graph import assemble
from mdi.plugins import build_plugin_host
from mdi.runtime import Service
from mdi.testing.redis_server import RedisServer

pytestmark = pytest.mark.anyio


def make_service(tmp_path: Path, sim_url: str, redis_url: str) -> Service:
    text = f"""
[connectors.kraken]
url = "{sim_url}"
stale_after = 0.6
backoff_initial = 0.4
backoff_max = 0.5
[sinks.parquet]
root = "{tmp_path / 'lake'}"
flush_interval = 0.2
backoff_initial = 0.1
backoff_max = 0.2
[sinks.redis]
url = "{redis_url}"
health_interval = 0.2
backoff_initial = 0.05
backoff_max = 0.1
[http]
port = 0
"""
    return Service(assemble(parse_config(text, "e2e.toml"), build_plugin_host()))


class Watcher:
    """Polls /health and remembers every (venue state, sink states, HTTP code) it saw."""

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client, self.url = client, url
        self.seen: list[tuple[str, dict[str, str], int]] = []
        self.last: dict[str, Any] = {}

    async def poll(self) -> dict[str, Any]:
        response = await self.client.get(f"{self.url}/health")
        body = response.json()
        self.last = body
        sinks = {name: s["state"] for name, s in body["sinks"].items()}
        self.seen.append((body["venues"]["kraken"]["state"], sinks, response.status_code))
        return body

    async def until(self, cond: Callable[[dict[str, Any], int], bool], timeout: float = 10.0) -> None:
        with anyio.fail_after(timeout):
            while True:
                await self.poll()
                if cond(self.last, self.seen[-1][2]):
                    return
                await anyio.sleep(0.02)


async def run_feed(sim: KrakenSimulator, scope: anyio.CancelScope) -> None:
    with scope:
        await sim.stream_demo(100.0)


def venue(body: dict[str, Any]) -> str:
    return str(body["venues"]["kraken"]["state"])


async def test_health_follows_venue_redis_and_parquet_failures(tmp_path: Path) -> None:
    with RedisServer() as redis_server:
        async with KrakenSimulator(heartbeat_interval=0.1) as sim:
            service = make_service(tmp_path, sim.url, redis_server.url)
            async with anyio.create_task_group() as tg, httpx.AsyncClient() as client:
                await tg.start(service.run)
                feed = anyio.CancelScope()
                tg.start_soon(run_feed, sim, feed)
                assert service.health_url
                w = Watcher(client, service.health_url)
                await w.until(lambda b, code: venue(b) == "live" and code == 200 and b["status"] == "ok")

                # A disconnect: not live for a while, then live again.
                await sim.disconnect_all()
                await w.until(lambda b, code: venue(b) in {"backoff", "connecting", "subscribing"})
                await w.until(lambda b, code: venue(b) == "live")
                assert w.last["venues"]["kraken"]["reconnects"] >= 1

                # A stall: heartbeats continue, data stops -> stale, then recovery.
                sim.stalled = True
                await w.until(lambda b, code: venue(b) == "stale")
                sim.stalled = False
                await w.until(lambda b, code: venue(b) == "live")

                # Redis goes away: the best-effort sink degrades, the service stays up (200).
                rows_before = service.stats.sinks["parquet"].counters["rows"]
                redis_server.stop()
                await w.until(lambda b, code: b["sinks"]["redis"]["state"] == "degraded")
                assert w.seen[-1][2] == 200 and w.last["status"] == "degraded"
                await w.until(lambda b, code: service.stats.sinks["parquet"].counters["rows"] > rows_before + 50)
                redis_server.start()
                await w.until(lambda b, code: b["sinks"]["redis"]["state"] == "ok")

                # The lake cannot be written: durable sink down -> 503; fixed -> 200 again.
                bbo_dir = tmp_path / "lake" / "v1" / "bbo"
                await w.until(lambda b, code: bbo_dir.exists())
                shutil.move(bbo_dir, tmp_path / "bbo.moved")
                bbo_dir.write_text("not a directory")
                await w.until(lambda b, code: code == 503 and b["sinks"]["parquet"]["state"] == "down")
                bbo_dir.unlink()
                shutil.move(tmp_path / "bbo.moved", bbo_dir)
                await w.until(lambda b, code: code == 200 and b["sinks"]["parquet"]["state"] == "ok")

                metrics = (await client.get(f"{service.health_url}/metrics")).text
                feed.cancel()
                service.request_stop()

    families = {f.name: f for f in text_string_to_metric_families(metrics)}
    reconnects = {s.labels["venue"]: s.value for s in families["mdi_venue_reconnects"].samples if s.name.endswith("_total")}
    assert reconnects["kraken"] >= 2
    assert any(s.value >= 1 for s in families["mdi_sink_write_errors"].samples if s.labels.get("sink") == "parquet")

    # Nothing accepted was lost: every routed event is in the lake exactly once.
    lake = tmp_path / "lake" / "v1"
    seqs = duckdb.sql(f"SELECT seq FROM read_parquet('{lake}/*/**/*.parquet', hive_partitioning=true, union_by_name=true)").fetchall()
    values = sorted(s[0] for s in seqs)
    assert values == list(range(1, service.stats.router.last_seq + 1))
