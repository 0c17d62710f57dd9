"""The run loops with a real BatchChannel inbox, short intervals and a clock whose phase we choose."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Sequence

import anyio
import pytest
from mdi.components import PipelineContext
from mdi.events import IVSurfaceSnapshot, SpotMid
from mdi.ticking import next_boundary, run_ticking
from mdi_iv_surface.config import IVSurfaceConfig
from mdi_iv_surface.pipeline import IVSurfacePipeline
from mdi_spot_mid.config import SpotMidConfig
from mdi_spot_mid.pipeline import SpotMidPipeline
from pipelines_support import CALL_PUT, MS, S, T0, Harness, SteppableClock, bbo, dvol, option

pytestmark = pytest.mark.anyio

INTERVAL_NS = 100 * MS


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.005)


def assert_aligned(events: Sequence[Any], stats_skipped: int, first_at_least: int) -> None:
    """Buckets sit on boundaries, strictly increase, and every boundary is served or counted."""
    buckets = [e.ts_bucket for e in events]
    assert all(b % INTERVAL_NS == 0 for b in buckets)
    assert buckets == sorted(set(buckets))
    assert buckets[0] >= first_at_least
    assert (buckets[-1] - buckets[0]) // INTERVAL_NS + 1 == len(buckets) + stats_skipped
    for e in events:
        assert e.ts_exchange == e.ts_bucket
        assert e.ts_recv >= e.ts_bucket
        assert e.venue == "mdi"


def test_next_boundary_is_strictly_after_now() -> None:
    assert next_boundary(T0, S) == T0 + S
    assert next_boundary(T0 - 1, S) == T0
    assert next_boundary(T0 + 1, INTERVAL_NS) == T0 + INTERVAL_NS


async def test_spot_mid_emits_one_aligned_snapshot_per_interval_and_ends_on_close() -> None:
    clock = SteppableClock(T0 - 30 * MS)
    h = Harness(clock)
    pipe = SpotMidPipeline(SpotMidConfig(interval=0.1))
    async with anyio.create_task_group() as tg:
        tg.start_soon(pipe.run, h.context("spot_mid"))
        now = clock()
        await h.inbox.put([bbo("kraken", "99999.9", "100000.1", now), bbo("coinbase", "100000.00", "100000.02", now)])
        await wait_for(lambda: len([e for e in h.emitted if e.quality == "Ok"]) >= 3)  # type: ignore[attr-defined]
        h.inbox.close()  # the task group only exits once run() has returned
    snaps = [e for e in h.emitted if isinstance(e, SpotMid)]
    assert len(snaps) == len(h.emitted)
    assert_aligned(h.emitted, h.stats.counters["ticks_skipped"], first_at_least=T0)
    ok = [s for s in snaps if s.quality == "Ok"]
    assert {(s.mid, s.divergence_bps, tuple(s.venues_used)) for s in ok} == {
        (Decimal("100000.005"), Decimal("0.00"), ("kraken", "coinbase"))
    }
    assert h.stats.counters["events_in"] == 2
    assert h.stats.counters["emitted"] == len(snaps)


async def test_spot_mid_marks_venues_stale_as_time_passes() -> None:
    clock = SteppableClock(T0 - 30 * MS)
    h = Harness(clock)
    pipe = SpotMidPipeline(SpotMidConfig(interval=0.1, stale_after=0.25))
    async with anyio.create_task_group() as tg:
        tg.start_soon(pipe.run, h.context("spot_mid"))
        now = clock()
        await h.inbox.put([bbo("kraken", "99999.9", "100000.1", now), bbo("coinbase", "100000.00", "100000.02", now)])
        await wait_for(lambda: any(e.reason == "no fresh venue; kraken: stale; coinbase: stale" for e in h.emitted))  # type: ignore[attr-defined]
        h.inbox.close()
    last = h.emitted[-1]
    assert isinstance(last, SpotMid)
    assert (last.mid, last.quality) == (None, "Suspect")
    assert all(v.age_ms is not None and v.age_ms >= 250 for v in last.venue_mids)


async def test_closing_the_inbox_ends_the_pipeline_without_waiting_for_a_tick() -> None:
    clock = SteppableClock(T0 - 5 * S)  # the next 10 s boundary is 5 s away
    h = Harness(clock)
    with anyio.fail_after(2):  # run() returns long before the 5 s tick
        async with anyio.create_task_group() as tg:
            tg.start_soon(SpotMidPipeline(SpotMidConfig(interval=10.0)).run, h.context("spot_mid"))
            await h.inbox.put([bbo("kraken", "1", "2", clock())])
            h.inbox.close()
    assert h.stats.counters["events_in"] == 1  # the queued batch was drained before returning
    assert h.emitted == []
    assert h.calls == 0


async def test_emit_refused_is_counted_and_the_pipeline_keeps_ticking() -> None:
    clock = SteppableClock(T0 - 30 * MS)
    h = Harness(clock, accept=False)
    async with anyio.create_task_group() as tg:
        tg.start_soon(SpotMidPipeline(SpotMidConfig(interval=0.1)).run, h.context("spot_mid"))
        await wait_for(lambda: h.calls >= 3)
        h.accept = True
        await wait_for(lambda: len(h.emitted) >= 1)
        h.inbox.close()
    refused = h.stats.counters["emit_dropped"]
    assert refused >= 3
    assert h.stats.counters["emitted"] == len(h.emitted)
    assert h.calls == refused + len(h.emitted)  # one snapshot per call, none retried


async def test_wall_clock_jumps_are_skipped_forward_and_realigned_backward() -> None:
    clock = SteppableClock(T0 - 30 * MS)
    h = Harness(clock)
    async with anyio.create_task_group() as tg:
        tg.start_soon(SpotMidPipeline(SpotMidConfig(interval=0.1)).run, h.context("spot_mid"))
        await wait_for(lambda: len(h.emitted) >= 1)
        clock.step(1 * S)
        await wait_for(lambda: h.emitted[-1].ts_bucket >= T0 + 1 * S)  # type: ignore[attr-defined]
        assert h.stats.counters["ticks_skipped"] >= 9
        clock.step(-10 * S)
        await wait_for(lambda: h.emitted[-1].ts_bucket < T0)  # type: ignore[attr-defined]
        h.inbox.close()
    after = [e for e in h.emitted if e.ts_bucket < T0]  # type: ignore[attr-defined]
    assert all(e.ts_bucket % INTERVAL_NS == 0 for e in after)  # type: ignore[attr-defined]


async def test_iv_surface_emits_per_expiry_snapshots_and_drops_expired_instruments() -> None:
    clock = SteppableClock(T0 - 30 * MS)
    h = Harness(clock)
    pipe = IVSurfacePipeline(IVSurfaceConfig(interval=0.1))
    short = T0 + 150 * MS  # expires while the pipeline runs
    far = T0 + 30 * 86_400 * S
    async with anyio.create_task_group() as tg:
        tg.start_soon(pipe.run, h.context("iv_surface"))
        now = clock()
        chain = [
            option(k, t, ts_recv=now, expiry_ns=far, mark_iv=iv)
            for k, iv in ((100000, "50.00"), (101000, "52.00"))
            for t in CALL_PUT
        ]
        await h.inbox.put([*chain, option(100000, "C", ts_recv=now, expiry_ns=short), dvol("55.12", now)])
        await wait_for(lambda: any(e.ts_bucket >= short + INTERVAL_NS for e in h.emitted))  # type: ignore[attr-defined]
        h.inbox.close()
    snaps = [e for e in h.emitted if isinstance(e, IVSurfaceSnapshot)]
    assert len(snaps) == len(h.emitted)
    assert all(s.ts_recv < s.expiry_ns for s in snaps)  # nothing reported for an expired expiry
    assert {s.expiry_ns for s in snaps if s.ts_bucket > short} == {far}
    far_snaps = [s for s in snaps if s.expiry_ns == far]
    assert_aligned(far_snaps, h.stats.counters["ticks_skipped"], first_at_least=T0)
    for s in far_snaps:
        assert (s.symbol, s.forward, s.atm_iv, s.dvol) == ("BTC", Decimal("100250"), Decimal("50.5019"), Decimal("55.12"))
        assert (s.quotes_seen, s.quotes_used, s.quality) == (4, 4, "Ok")


async def test_run_ticking_rejects_a_non_positive_interval() -> None:
    h = Harness(SteppableClock(T0))
    ctx: PipelineContext = h.context("bad")
    with pytest.raises(ValueError, match="interval"):
        await run_ticking(ctx, 0, lambda batch: None, lambda bucket, now: [])
