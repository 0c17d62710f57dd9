"""The real router and runtime, driven by small in-process plugins."""

from __future__ import annotations

import sys
from typing import Any

import anyio
import pytest

import core_testplugins as tp
from mdi.config import parse_config
from mdi.events import SpotMid, Trade
from mdi.graph import assemble
from mdi.plugins import build_plugin_host
from mdi.runtime import Service

pytestmark = pytest.mark.anyio

BASE = """
[http]
enabled = false
[supervisor]
backoff_initial = 0.01
backoff_max = 0.02
shutdown_timeout = 5
"""


def make_service(text: str, supervisor: str = "") -> Service:
    host = build_plugin_host(load_entrypoints=False, extra=[("testplugins", sys.modules["core_testplugins"])])
    return Service(assemble(parse_config(BASE + supervisor + text, "test.toml"), host))


async def run_until(service: Service, done: Any, timeout: float = 10.0) -> None:
    """Run ``service`` until ``done()`` is true, then stop it in order and wait for the end."""
    async with anyio.create_task_group() as tg:
        await tg.start(service.run)
        with anyio.fail_after(timeout):
            while not done():
                await anyio.sleep(0.01)
        service.request_stop()


async def test_sequence_numbers_strictly_increase_without_gaps() -> None:
    svc = make_service("""
[connectors.src]
total = 5000
batch = 37
[connectors.src2]
total = 3000
batch = 11
[sinks.mem]
""")
    await run_until(svc, lambda: svc.stats.router.routed >= 8000)
    events = tp.INSTANCES["mem"].events
    trades = [e for e in events if isinstance(e, Trade)]
    assert len(trades) == 8000
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert {e.venue for e in trades} == {"src", "src2"}


async def test_sequence_resumes_after_the_lake_watermark() -> None:
    svc = make_service("""
[connectors.src]
total = 10
[sinks.mem]
watermark = 41
[sinks.cache]
watermark = 7
""")
    await run_until(svc, lambda: svc.stats.router.routed >= 10)
    seqs = [e.seq for e in tp.INSTANCES["mem"].events]
    assert seqs[0] == 42
    assert seqs == list(range(42, 42 + len(seqs)))


async def test_slow_durable_sink_loses_nothing_and_slows_the_source() -> None:
    svc = make_service("""
[router]
ingress_capacity = 200
sink_capacity = 200
max_batch = 100
[connectors.src]
total = 6000
batch = 100
[sinks.slow]
delay = 0.02
max_read = 100
""")
    async with anyio.create_task_group() as tg:
        await tg.start(svc.run)
        await anyio.sleep(0.2)
        src = tp.INSTANCES["src"]
        # 0.2 s at 20 ms per 100-event read: the sink took ~1,000; bounded channels hold ~500.
        assert src.sent < 6000
        assert src.sent <= len(tp.INSTANCES["slow"].events) + 200 + 200 + 100
        with anyio.fail_after(10):
            while len([e for e in tp.INSTANCES["slow"].events if isinstance(e, Trade)]) < 6000:
                await anyio.sleep(0.01)
        svc.request_stop()
    trades = [e for e in tp.INSTANCES["slow"].events if isinstance(e, Trade)]
    assert [int(t.trade_id) for t in trades] == list(range(6000))
    assert not any(svc.stats.router.drops.values())


async def test_full_best_effort_sink_drops_and_counts_without_blocking_durable() -> None:
    svc = make_service("""
[router]
sink_capacity = 500
[connectors.src]
total = 20000
batch = 100
[sinks.mem]
[sinks.cache]
stuck = true
""")
    async with anyio.create_task_group() as tg:
        await tg.start(svc.run)
        with anyio.fail_after(10):
            while len(tp.INSTANCES["mem"].events) < 20000:
                await anyio.sleep(0.01)
        dropped = svc.stats.router.drops[("sink:cache", "full")]
        assert dropped >= 20000 - 500
        tp.INSTANCES["cache"].release.set()
        svc.request_stop()
    cache_rows = len(tp.INSTANCES["cache"].events)
    mem_rows = len(tp.INSTANCES["mem"].events)
    assert cache_rows + svc.stats.router.drops[("sink:cache", "full")] == mem_rows
    assert [e.seq for e in tp.INSTANCES["mem"].events] == list(range(1, mem_rows + 1))


async def test_derived_events_keep_flowing_under_an_ingress_flood() -> None:
    svc = make_service("""
[router]
ingress_capacity = 2000
max_batch = 500
[connectors.src]
total = 0
batch = 200
[pipeline.echo]
[sinks.mem]
""")
    async with anyio.create_task_group() as tg:
        await tg.start(svc.run)
        with anyio.fail_after(10):
            while svc.stats.router.routed < 100_000:
                await anyio.sleep(0.01)
        svc.request_stop()
    events = tp.INSTANCES["mem"].events
    derived = [e for e in events if isinstance(e, SpotMid)]
    echo = tp.INSTANCES["echo"]
    # Every derived event the pipeline managed to hand over reached the durable sink...
    assert len(derived) == echo.emitted > 100
    assert svc.stats.router.derived_routed == echo.emitted
    # ...interleaved with the flood, not parked behind it.
    first_derived = events.index(derived[0])
    assert first_derived < 5000
    gaps = [b.seq - a.seq for a, b in zip(derived, derived[1:])]
    assert max(gaps) < 20_000


async def test_crashing_connector_is_restarted_then_marked_failed() -> None:
    svc = make_service("""
[connectors.crashy]
total = 0
batch = 10
crash_after = 10
[connectors.src]
total = 50
[sinks.mem]
""", supervisor="max_restarts = 3\nwindow = 60\n")
    await run_until(svc, lambda: svc.stats.components.get("connector:crashy") is not None
                    and svc.stats.components["connector:crashy"].state == "failed")
    comp = svc.stats.components["connector:crashy"]
    assert comp.restarts == 3
    assert tp.INSTANCES["crashy"].runs == 4
    assert "crashed on purpose" in comp.last_error
    assert svc.stats.venues["crashy"].state == "failed"
    # The rest kept running: the healthy source delivered everything.
    src_trades = [e for e in tp.INSTANCES["mem"].events if isinstance(e, Trade) and e.venue == "src"]
    assert len(src_trades) == 50
    crashy = [e for e in tp.INSTANCES["mem"].events if isinstance(e, Trade) and e.venue == "crashy"]
    assert len(crashy) == 40
