"""Running an assembled graph: one anyio task group tree owned by the core.

Start order: the journal is scanned, sinks open (and report the lake's watermark), the journal
replays what the durable sinks lack (see :mod:`mdi.journal`) -> router -> pipelines -> connectors
-> HTTP. Stop order (first SIGINT/SIGTERM, or :meth:`Service.request_stop`): connectors are
cancelled, ingress closes, the router drains it and closes the pipeline inboxes, pipelines finish
(bounded by ``supervisor.shutdown_timeout``), the router drains derived events and closes the
sink channels, sinks flush and close. A second signal cancels everything at once (forced exit).
"""

from __future__ import annotations

import logging
import signal
import sys
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Protocol

import anyio
from anyio.abc import TaskStatus

from mdi.channel import BatchChannel
from mdi.components import ConnectorContext, PipelineContext, SinkContext
from mdi.events import TYPE_OF_KIND, EventBase
from mdi.graph import Graph, Node
from mdi.journal.service import STATS_NAME, JournalRun
from mdi.router import Router
from mdi.stats import ComponentStats, ServiceStats, SinkStats, VenueStats
from mdi.statuspage.history import DerivedHistory
from mdi.supervisor import supervise
from mdi.timeutil import now_ns
from mdi.transport import get_transport

if TYPE_CHECKING:
    from mdi.statuspage.document import StatusSources

log = logging.getLogger("mdi.runtime")

# While the service runs, a thread that wants the GIL gets it after at most this long (Python's
# default is 5 ms). The event loop holds the GIL nearly all the time at full speed; sinks do their
# bulk work (Arrow parsing, ZSTD, fsync) in worker threads that release the GIL for each C call and
# need it back between calls. With 5 ms per hand-back a Parquet flush stretches to seconds and its
# backlog to hundreds of MB; at 0.5 ms the writer keeps up and the loop still never waits longer
# than that for its next event (docs/performance.md has the measurements).
GIL_SWITCH_INTERVAL_S = 0.0005


class ContextAdapter(Protocol):
    """Rewrites the contexts the core hands components: capture (record) and replay use it."""

    def connector(self, ctx: ConnectorContext) -> ConnectorContext: ...

    def pipeline(self, ctx: PipelineContext) -> PipelineContext: ...

    def close(self) -> None: ...


class Service:
    """A running (or runnable) graph and its observable state."""

    def __init__(self, graph: Graph, *, clock: Callable[[], int] = now_ns, adapter: ContextAdapter | None = None) -> None:
        self.graph = graph
        self.clock = clock
        self.adapter = adapter
        self.stats = ServiceStats()
        self.history = DerivedHistory()  # what the status page charts (fed by a router tap)
        self.router: Router | None = None
        self.health_url: str | None = None
        self.forced = False
        self._stop = anyio.Event()
        self._sink_inputs: dict[str, BatchChannel[EventBase]] = {}
        self.journal: JournalRun | None = None

    def request_stop(self) -> None:
        """Begin the ordered shutdown (idempotent)."""
        self._stop.set()

    def health(self) -> dict[str, Any]:
        from mdi.health import snapshot

        return snapshot(self.stats)

    # ----- start-up --------------------------------------------------------------------
    async def _open_sinks(self) -> int:
        watermark = 0
        for node in self.graph.sinks:
            stats = SinkStats(name=node.name, delivery=node.spec.delivery)
            self.stats.sinks[node.name] = stats
            ctx = SinkContext(name=node.name, stats=stats, log=logging.getLogger(f"mdi.sink.{node.name}"), health=self.health, clock=self.clock,
                              instance=self.graph.config.service.name)
            if self.journal is not None and node.spec.delivery == "durable":
                ctx.committed = self.journal.committer(node.name)
            try:
                mark = await node.component.open(ctx)
            except Exception as exc:
                if node.spec.delivery == "durable":
                    raise RuntimeError(f"durable sink {node.name!r} cannot open: {exc}") from exc
                stats.state, stats.detail = "down", f"open failed: {exc}"
                log.error("best-effort sink failed to open", extra={"sink": node.name, "error": str(exc)})
                continue
            if mark is not None:
                watermark = max(watermark, int(mark))
        return watermark

    async def _open_durable_path(self) -> int:
        """Open the journal (if enabled) and the sinks; the first number the router may use is
        above the lake's watermark and above every number the journal says was handed out."""
        config = self.graph.config.journal
        high = 0
        if config.enabled:
            if any(n.name == STATS_NAME for n in self.graph.sinks):
                raise RuntimeError(f"a sink is named {STATS_NAME!r}, the name the journal reports under; rename that sink")
            self.journal = JournalRun(config, self.stats)
            high = await self.journal.open()
        first_seq = max(await self._open_sinks(), high) + 1
        if self.journal is not None:
            durable = [(n.name, n.component) for n in self.graph.sinks if n.spec.delivery == "durable"]
            await self.journal.start(first_seq, durable)
        return first_seq

    def _wire(self, first_seq: int) -> Router:
        router = Router(self.graph.config.router, self.stats.router, first_seq=first_seq)
        self.stats.channels["ingress"] = router.ingress
        self.stats.channels["derived"] = router.derived
        router.derived_taps.append(self.history.observe)
        for node in self.graph.sinks:
            if self.stats.sinks[node.name].state == "down":
                continue
            channel = router.add_sink(node.name, durable=node.spec.delivery == "durable")
            self._sink_inputs[node.name] = channel
            self.stats.channels[channel.name] = channel
        for node in self.graph.pipelines:
            types = frozenset(TYPE_OF_KIND[k] for k in node.spec.consumes)
            channel = router.add_pipeline(node.name, types)
            self.stats.channels[channel.name] = channel
        return router

    # ----- running ---------------------------------------------------------------------
    async def run(self, *, task_status: TaskStatus[Service] = anyio.TASK_STATUS_IGNORED, handle_signals: bool = False) -> None:
        """Run until stopped; ``task_status.started(self)`` once everything is up."""
        previous = sys.getswitchinterval()
        sys.setswitchinterval(min(previous, GIL_SWITCH_INTERVAL_S))
        try:
            await self._run(task_status, handle_signals)
        finally:
            sys.setswitchinterval(previous)

    async def _run(self, task_status: TaskStatus[Service], handle_signals: bool) -> None:
        if self.adapter is None and self.graph.config.capture.enabled:
            from mdi.capture.record import Recorder

            self.adapter = Recorder(self.graph.config.capture, self.stats, self.graph.config.source)
        try:
            await self._run_adapted(task_status, handle_signals)
        finally:
            if self.adapter is not None:
                self.adapter.close()

    async def _run_adapted(self, task_status: TaskStatus[Service], handle_signals: bool) -> None:
        self.stats.started_ns = self.clock()
        first_seq = await self._open_durable_path()
        router = self.router = self._wire(first_seq)
        router.journal = self.journal.journal if self.journal else None
        log.info("router starts", extra={"first_seq": first_seq})
        async with anyio.create_task_group() as outer:
            if handle_signals:
                outer.start_soon(self._watch_signals, outer.cancel_scope)
            http = self.graph.config.http
            if http.enabled:
                from mdi.http import serve_http

                serve = partial(serve_http, sources=self._status_sources())
                self.health_url = await outer.start(serve, self.stats, http.host, http.port)
            try:
                await self._run_core(router, task_status)
            finally:
                if self.journal is not None:
                    await self.journal.close(lambda: self.forced)
            outer.cancel_scope.cancel()
        self.stats.state = "stopped"
        self._log_final_counts()

    def _log_final_counts(self) -> None:
        """One line at stop with what each connector counted and what the router took, so an
        operator (and the SIGTERM fault test) can check every counted event against the lake."""
        venues = {name: {"events": v.events, "undelivered": v.undelivered} for name, v in self.stats.venues.items()}
        log.info("service stopped", extra={"venues": venues, "routed": self.stats.router.routed, "last_seq": self.stats.router.last_seq})

    def _status_sources(self) -> StatusSources:
        """What the status page reads besides the stats; plugin routes are collected here, so a
        path clash stops start-up before anything is contacted."""
        from mdi.statuspage.document import StatusSources
        from mdi.statuspage.plugin_routes import collect_routes

        stale_after = {n.name: float(n.config.stale_after) for n in self.graph.connectors if hasattr(n.config, "stale_after")}
        routes = collect_routes(self.graph.host, self.stats)
        return StatusSources(history=self.history, plugin_routes=routes, stale_after=stale_after)

    async def _run_core(self, router: Router, task_status: TaskStatus[Service]) -> None:
        supervisor = self.graph.config.supervisor
        async with anyio.create_task_group() as core:
            for node in self.graph.sinks:
                if node.name in self._sink_inputs:
                    core.start_soon(self._run_sink, node, self._sink_inputs[node.name])
            if self.journal is not None:  # the journal's tail reaches the sinks before anything new
                durable = [(n.name, n.component, self._sink_inputs[n.name]) for n in self.graph.sinks
                           if n.spec.delivery == "durable" and n.name in self._sink_inputs]
                await self.journal.recover(durable)
            core.start_soon(router.run)
            async with anyio.create_task_group() as pipes:
                for node, channel in zip(self.graph.pipelines, router.pipelines):
                    pipes.start_soon(self._run_pipeline, node, channel.channel)
                async with anyio.create_task_group() as conns:
                    for node in self.graph.connectors:
                        conns.start_soon(self._run_connector, node)
                    self.stats.state = "running"
                    task_status.started(self)
                    await self._stop.wait()
                    self.stats.state = "stopping"
                    log.info("stopping: connectors first")
                    conns.cancel_scope.cancel()
                router.ingress.close()
                pipes.cancel_scope.deadline = anyio.current_time() + supervisor.shutdown_timeout
            router.derived.close()

    async def _run_connector(self, node: Node) -> None:
        venue = VenueStats(name=node.name)
        comp = ComponentStats(name=node.name, kind="connector")
        self.stats.venues[node.name] = venue
        self.stats.components[f"connector:{node.name}"] = comp
        transport = get_transport(getattr(node.config, "transport", "auto"))
        ctx = ConnectorContext(
            name=node.name, stats=venue, emit=self.router.emit_ingress,  # type: ignore[union-attr]
            transport=transport, log=logging.getLogger(f"mdi.connector.{node.name}"), clock=self.clock,
        )
        if self.adapter is not None:
            ctx = self.adapter.connector(ctx)

        def failed() -> None:
            venue.state = "failed"

        await supervise(lambda: node.component.run(ctx), comp, self.graph.config.supervisor, failed)

    async def _run_pipeline(self, node: Node, inbox: BatchChannel[EventBase]) -> None:
        comp = ComponentStats(name=node.name, kind="pipeline")
        self.stats.components[f"pipeline:{node.name}"] = comp
        ctx = PipelineContext(
            name=node.name, stats=comp, inbox=inbox, emit=self.router.emit_derived,  # type: ignore[union-attr]
            log=logging.getLogger(f"mdi.pipeline.{node.name}"), clock=self.clock,
        )
        if self.adapter is not None:
            ctx = self.adapter.pipeline(ctx)
        await supervise(lambda: node.component.run(ctx), comp, self.graph.config.supervisor)

    async def _run_sink(self, node: Node, inbox: BatchChannel[EventBase]) -> None:
        stats = self.stats.sinks[node.name]
        if node.spec.delivery == "durable":
            await node.component.run(inbox)  # a durable sink that crashes stops the service
            return
        try:
            await node.component.run(inbox)
        except Exception as exc:  # noqa: BLE001 - best effort: keep the service, count the loss
            stats.state, stats.detail = "down", f"crashed: {type(exc).__name__}: {exc}"
            log.error("best-effort sink crashed; discarding its input", extra={"sink": node.name}, exc_info=exc)
            async for batch in inbox:
                stats.counters["dropped_after_crash"] += len(batch)

    async def _watch_signals(self, force_scope: anyio.CancelScope) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                if not self._stop.is_set():
                    log.info("signal received: ordered shutdown", extra={"signal": signal.Signals(signum).name})
                    self.request_stop()
                else:
                    log.warning("second signal: forced exit", extra={"signal": signal.Signals(signum).name})
                    self.forced = True
                    force_scope.cancel()
                    return
