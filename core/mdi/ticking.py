"""The receive-and-tick loop shared by periodic pipelines (spot mid, IV surface, third parties).

A pipeline is one coroutine (the core owns every task group), so it cannot run a timer task
beside its inbox reader. Instead it waits for the next batch at most until the next tick:
``anyio.move_on_after`` around ``inbox.get()``, which takes nothing from the channel when it is
cancelled. Batches are handed to a cheap ``ingest`` (keep the latest value per key); the real work
runs in ``tick``, once per interval, however many events arrived.

Ticks fall on multiples of the interval since the Unix epoch (1 s -> wall-clock second
boundaries), measured with ``ctx.clock`` so tests control the phase. A tick that is due is served
before the next batch is read, so a snapshot at boundary T never sees events read after T.
"""

from __future__ import annotations

from typing import Callable

import anyio

from mdi.components import PipelineContext
from mdi.events import EventBase
from mdi.logutil import RateLimitedLog

Ingest = Callable[[list[EventBase]], None]
Tick = Callable[[int, int], list[EventBase]]  # (bucket_ns, now_ns) -> events to emit


def next_boundary(now_ns: int, interval_ns: int) -> int:
    """The first multiple of ``interval_ns`` strictly after ``now_ns``."""
    return (now_ns // interval_ns + 1) * interval_ns


def seconds_to_ns(seconds: float) -> int:
    """Config intervals are float seconds; ticks are integer ns (rounded, never truncated)."""
    return round(seconds * 1_000_000_000)


async def run_ticking(ctx: PipelineContext, interval_ns: int, ingest: Ingest, tick: Tick) -> None:
    """Ingest every batch and call ``tick`` on each boundary until the inbox is closed.

    Returns when ``ctx.inbox`` is closed and drained, without a final tick (a partial interval is
    not a snapshot). Ticks missed because the loop was held up are counted in
    ``ctx.stats.counters["ticks_skipped"]`` and only the latest boundary is served. A full derived
    channel (``emit`` returns False) is counted and logged, never raised.
    """
    if interval_ns <= 0:
        raise ValueError(f"interval must be > 0 ns, got {interval_ns}")
    clock, inbox, counters = ctx.clock, ctx.inbox, ctx.stats.counters
    warn = RateLimitedLog(ctx.log)
    timer = ctx.timer or _real_timer
    due = next_boundary(clock(), interval_ns)
    while True:
        now = clock()
        if now >= due:
            bucket = now - (now - due) % interval_ns  # the latest boundary <= now
            counters["ticks_skipped"] += (bucket - due) // interval_ns
            _emit(ctx, tick(bucket, now), warn)
            due = bucket + interval_ns
            continue
        if due - now > interval_ns:  # the wall clock stepped back: re-align, do not stall
            due = next_boundary(now, interval_ns)
            continue
        batch: list[EventBase] | None = inbox.get_nowait(65536)  # queued: no timer needed
        if not batch:
            with timer(due, now):
                batch = await inbox.get()
        if batch is None:
            return
        if batch:
            counters["events_in"] += len(batch)
            ingest(batch)


def _real_timer(due_ns: int, now_ns: int) -> anyio.CancelScope:
    return anyio.move_on_after((due_ns - now_ns) / 1e9)


def _emit(ctx: PipelineContext, events: list[EventBase], warn: RateLimitedLog) -> None:
    """Hand derived events to the core; a refusal (full channel) is counted, not retried."""
    if not events:
        return
    if ctx.emit(events):
        ctx.stats.counters["emitted"] += len(events)
        return
    ctx.stats.counters["emit_dropped"] += len(events)
    warn.warning("emit_dropped", "derived channel full: %d events dropped", len(events))
