"""The router: stamps sequence numbers and fans batches out to sinks and pipelines.

It serves two inputs fairly, ingress (connectors) and derived (pipelines): each pass takes up to
``max_batch`` events from *each*, so a flood on one never starves the other. Outputs:

- durable sinks: ``await put`` (the router, and therefore the connectors, slow down; no loss);
- best-effort sinks and pipeline inboxes: ``try_put``; a full channel drops and counts.

The router is the only place events are stamped (``seq``) and the only place batches are shared
between channels; consumers must treat a batch as read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from msgspec.structs import force_setattr as _force_setattr  # what stamp_seq uses (see _route)

from mdi.channel import BatchChannel, Doorbell
from mdi.config import RouterConfig
from mdi.events import EventBase
from mdi.stats import RouterStats
from mdi.timeutil import now_ns

if TYPE_CHECKING:
    from mdi.journal import Journal

_LATENCY_SAMPLES_PER_BATCH = 32


@dataclass
class SinkRoute:
    name: str
    channel: BatchChannel[EventBase]
    durable: bool


@dataclass
class PipelineRoute:
    name: str
    channel: BatchChannel[EventBase]
    consumes: frozenset[type]


class Router:
    def __init__(self, config: RouterConfig, stats: RouterStats, *, first_seq: int = 1) -> None:
        self.config = config
        self.stats = stats
        self.next_seq = first_seq
        self.doorbell = Doorbell()
        self.ingress: BatchChannel[EventBase] = BatchChannel("ingress", config.ingress_capacity, self.doorbell)
        self.derived: BatchChannel[EventBase] = BatchChannel("derived", config.derived_capacity, self.doorbell)
        self.sinks: list[SinkRoute] = []
        self.pipelines: list[PipelineRoute] = []
        self._pipelines_closed = False
        # Called with every derived batch once routed (the status page's history). Derived
        # streams are a few events a second, so this costs nothing per connector event. A tap
        # must be cheap and must not raise.
        self.derived_taps: list[Callable[[list[EventBase]], None]] = []
        self.journal: Journal | None = None  # set by the runtime when [journal] is enabled

    # ----- wiring ----------------------------------------------------------------------
    def add_sink(self, name: str, durable: bool) -> BatchChannel[EventBase]:
        channel: BatchChannel[EventBase] = BatchChannel(f"sink:{name}", self.config.sink_capacity)
        self.sinks.append(SinkRoute(name, channel, durable))
        return channel

    def add_pipeline(self, name: str, consumes: frozenset[type]) -> BatchChannel[EventBase]:
        channel: BatchChannel[EventBase] = BatchChannel(f"pipeline:{name}", self.config.pipeline_capacity)
        self.pipelines.append(PipelineRoute(name, channel, consumes))
        return channel

    async def emit_ingress(self, batch: list[EventBase]) -> None:
        """Connectors' ``emit``: waits when the router is backed up (back-pressure)."""
        if batch:
            await self.ingress.put(batch)

    def emit_derived(self, batch: list[EventBase]) -> bool:
        """Pipelines' ``emit``: never waits; a full derived channel drops and counts."""
        if not batch:
            return True
        if self.derived.try_put(batch):
            return True
        self.stats.derived_dropped += len(batch)
        self.stats.drops[("derived", "full")] += len(batch)
        return False

    # ----- the loop --------------------------------------------------------------------
    async def run(self) -> None:
        """Route until ingress and derived are both closed and drained, then close the sinks."""
        max_batch = self.config.max_batch
        ingress, derived = self.ingress, self.derived
        try:
            while True:
                batch = ingress.get_nowait(max_batch)
                extra = derived.get_nowait(max_batch)
                if extra:
                    self.stats.derived_routed += len(extra)
                    batch = batch + extra if batch else extra
                if batch:
                    await self._route(batch)
                    if extra:
                        for tap in self.derived_taps:
                            tap(extra)
                    continue
                if ingress.closed and not self._pipelines_closed:
                    self._close_pipelines()
                if ingress.closed and derived.closed:
                    return
                await self.doorbell.wait()
        finally:
            self._close_pipelines()
            for sink in self.sinks:
                sink.channel.close()

    def _close_pipelines(self) -> None:
        """Ingress is done: pipelines may finish (they emit their last derived events)."""
        if not self._pipelines_closed:
            self._pipelines_closed = True
            for route in self.pipelines:
                route.channel.close()

    async def _route(self, batch: list[EventBase]) -> None:
        seq = self.next_seq
        journal = self.journal
        if journal is not None:  # no number is handed out before it is durably reserved
            await journal.reserve_through(seq + len(batch) - 1)
        stamp = _force_setattr  # what stamp_seq does, without a Python call per event
        for event in batch:
            stamp(event, "seq", seq)
            seq += 1
        self.next_seq = seq
        if journal is not None:
            await journal.append(batch)
        stats = self.stats
        stats.last_seq = seq - 1
        stats.routed += len(batch)
        stats.batches += 1
        self._observe_latency(batch)
        kinds = set(map(type, batch)) if self.pipelines else set()
        for route in self.pipelines:
            if route.channel.closed:
                continue
            wanted = route.consumes
            if kinds.isdisjoint(wanted):  # per batch, not per event: most pipelines want few kinds
                continue
            # Every kind wanted: the batch itself (consumers treat batches as read-only).
            selected = batch if kinds <= wanted else [e for e in batch if type(e) in wanted]
            if selected and not route.channel.try_put(selected):
                stats.drops[(f"pipeline:{route.name}", "full")] += len(selected)
        for sink in self.sinks:
            if sink.durable:
                await sink.channel.put(batch)
            elif not sink.channel.try_put(batch):
                stats.drops[(f"sink:{sink.name}", "full")] += len(batch)

    def _observe_latency(self, batch: list[EventBase]) -> None:
        """Receive -> router latency on a sample of the batch (a bisect per event would cost more
        than routing it); the first event is the oldest, so the tail is always represented."""
        step = max(1, len(batch) // _LATENCY_SAMPLES_PER_BATCH)
        now = now_ns()
        self.stats.latency.observe_ns(now - e.ts_recv for e in batch[::step])

