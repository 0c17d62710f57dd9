"""Shared builders for the ops tests: a hand-made ServiceStats with known values, a fixed clock,
serving it over real HTTP on a free port, and parsing a Prometheus scrape.

A plain module (not conftest.py) with a unique name, so ``import ops_support`` can never pick up
another directory's conftest."""

from __future__ import annotations

from contextlib import asynccontextmanager
from functools import partial
from typing import AsyncIterator, Callable

import anyio
from prometheus_client.parser import text_string_to_metric_families

from mdi.channel import BatchChannel
from mdi.http import serve_http
from mdi.stats import ComponentStats, RouterStats, ServiceStats, SinkStats, VenueStats
from mdi.timeutil import NS_PER_S

NOW_NS = 1_700_000_100 * NS_PER_S
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def fixed_clock() -> int:
    return NOW_NS


def _venues() -> dict[str, VenueStats]:
    kraken = VenueStats(name="kraken", state="live", last_data_ns=NOW_NS - 1_500_000_000, reconnects=1, frames=120,
                        events=300, parse_errors=2, gaps=1, duplicates=4)
    for seconds in (0.003, 0.02, 0.2):
        kraken.exchange_latency.observe(seconds)
    coinbase = VenueStats(name="coinbase", state="backoff", reconnects=3, last_error="connection refused",
                          sub_rejections=1, rejected=["BTC-XYZ: unknown product"])
    return {"kraken": kraken, "coinbase": coinbase}


def _sinks() -> dict[str, SinkStats]:
    parquet = SinkStats(name="parquet", delivery="durable", queue_depth=12)
    parquet.counters.update({"rows_written": 900, "files_written": 3})
    parquet.gauges["open_files"] = 2
    parquet.latency.observe(1.2)
    parquet.latency.observe(3.4)
    redis = SinkStats(name="redis", delivery="best_effort", state="degraded", detail="reconnecting")
    redis.counters.update({"commands": 40, "dropped_backpressure": 8})
    redis.gauges["keys"] = 17
    return {"parquet": parquet, "redis": redis}


def _components() -> dict[str, ComponentStats]:
    comps = [
        ComponentStats(name="kraken", kind="connector", state="running"),
        ComponentStats(name="coinbase", kind="connector", state="restarting", restarts=2, last_error="ValueError: boom"),
        ComponentStats(name="spot_mid", kind="pipeline", state="running", restarts=1),
    ]
    comps[2].counters["emitted"] = 7
    return {f"{c.kind}:{c.name}": c for c in comps}


def _router() -> RouterStats:
    router = RouterStats(routed=1000, batches=10, derived_routed=50, derived_dropped=5, last_seq=123456)
    router.drops.update({("sink:redis", "full"): 30, ("derived", "full"): 5})
    router.latency.observe(0.0002)
    router.latency.observe(0.004)
    return router


def _channels() -> dict[str, BatchChannel[str]]:
    """Real bounded channels (needs a running event loop: anyio.Event inside)."""
    ingress: BatchChannel[str] = BatchChannel("ingress", 100)
    ingress.try_put(["a", "b", "c"])
    parquet: BatchChannel[str] = BatchChannel("sink:parquet", 50)
    parquet.try_put(["x"] * 4)
    parquet.try_put(["y"] * 3)
    redis: BatchChannel[str] = BatchChannel("sink:redis", 50)
    return {"ingress": ingress, "sink:parquet": parquet, "sink:redis": redis}


def build_service() -> ServiceStats:
    """Call inside an async test: the channels need the running event loop."""
    return ServiceStats(started_ns=NOW_NS - 100 * NS_PER_S, state="running", venues=_venues(), sinks=_sinks(),
                        components=_components(), router=_router(), channels=_channels())


@asynccontextmanager
async def serving(service: ServiceStats, clock: Callable[[], int] = fixed_clock) -> AsyncIterator[str]:
    """``async with serving(service) as url``: serve_http on 127.0.0.1, port 0, in a task group."""
    async with anyio.create_task_group() as tg:
        url = await tg.start(partial(serve_http, service, "127.0.0.1", 0, clock=clock))
        yield url
        tg.cancel_scope.cancel()


def parse_samples(text: str) -> Samples:
    """Prometheus text -> {(sample name, labels): value}, via prometheus_client's own parser."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in out, f"duplicate sample {key}"
            out[key] = sample.value
    return out
