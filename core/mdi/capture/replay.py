"""Replay: recorded frames through the same connector sessions, one step at a time.

Each connector gets a :class:`ReplayTransport` and a :class:`ReplayClock` built on its recorded
stream. A connector *step* runs from one gate (``connect`` or ``recv_batch``) to the next; the
:class:`Scheduler` lets exactly one connector take a step, in recorded time order, and only when
every other connector waits at a gate. So events reach the router in one deterministic order, and
the clock values a connector reads are the ones it read live: the same rows, value for value.
Before a step at or after a pipeline's next tick boundary the scheduler settles the graph (every
earlier event routed and ingested), advances the :class:`VirtualClock`, and waits until the
ticks' derived events are routed; then connectors go on.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator, Awaitable, Callable

import anyio
import anyio.abc

from mdi.capture.cursor import Cursor
from mdi.capture.format import CLOCK, CLOSED, FAILED, MORE, OPENED, PING, RECV, SENT, TEXT, Record, batch_frames, segments
from mdi.capture.vclock import VirtualClock
from mdi.components import ConnectorContext, PipelineContext
from mdi.events import EventBase
from mdi.stats import ComponentStats
from mdi.transport import ConnectionClosed, Frame, TransportError, WsConnection

if TYPE_CHECKING:
    from mdi.graph import Graph
    from mdi.runtime import Service

log = logging.getLogger("mdi.replay")
SETTLE_TIMEOUT_S = 120.0


@dataclass
class ReplayOptions:
    from_ns: int | None = None
    to_ns: int | None = None
    speed: float | None = None  # None: as fast as possible (--max)


@dataclass
class ReplayStream:
    """One connector's records and its place in the scheduler."""

    name: str
    index: int
    cursor: Cursor
    stats: ComponentStats
    waiting: bool = False
    started: bool = False
    finished: bool = False
    step_ns: int = 0
    last_ns: int = 0
    grant: anyio.Event = field(default_factory=anyio.Event)

    def skip_sends(self) -> None:
        """Sends recorded live that this replay did not make (the code changed): passed over."""
        while (r := self.cursor.peek()) is not None and r.kind == SENT:
            self.cursor.pop()
            self.stats.counters["replay_diverged"] += 1
            log.warning("replay diverged: a message sent live was not sent in replay")

    def take(self) -> Record:
        record = self.cursor.pop()
        self.last_ns = record.t_ns
        return record


class Scheduler:
    """Grants connector steps in recorded order and ticks pipelines at their boundaries."""

    def __init__(self, streams: list[ReplayStream], clock: VirtualClock, options: ReplayOptions) -> None:
        self.streams = streams
        self.clock = clock
        self.options = options
        self.stopping = False
        self._bell = anyio.Event()
        self.service: Service | None = None
        self.last_ns = clock.now

    def ring(self) -> None:
        self._bell.set()

    async def gate(self, stream: ReplayStream) -> None:
        """Wait for this connector's turn; park for good when its records are used up."""
        stream.skip_sends()
        if stream.cursor.peek() is None or self.stopping:
            stream.finished = True
            self.ring()
            await anyio.sleep_forever()
        if self._may_go_on(stream):  # --max fast path: no round trip through the scheduler task
            stream.started = True
            return
        stream.waiting = True
        self.ring()
        with anyio.CancelScope(shield=True):  # a receive timeout must not cut a turn short
            await stream.grant.wait()
        stream.grant = anyio.Event()
        stream.waiting = False
        stream.started = True
        if self.stopping:
            await anyio.sleep_forever()

    def _may_go_on(self, stream: ReplayStream) -> bool:
        """This stream's next step is the scheduler's next grant anyway: take it directly.

        True only at full speed, with every other connector at a gate, no pipeline boundary
        before the step and nothing past ``--to``: exactly when :meth:`run` would grant it next.
        """
        if self.options.speed is not None or self.service is None:
            return False
        t = _peek_ns(stream)
        key = (t, stream.index)
        for other in self.streams:
            if other is not stream and not other.finished and (not other.waiting or (_peek_ns(other), other.index) < key):
                return False
        due = self.clock.next_due()
        if (due is not None and due < t) or (self.options.to_ns is not None and t > self.options.to_ns):
            return False
        stream.step_ns = t
        self.last_ns = max(self.last_ns, t)
        return True

    async def _all_at_gates(self) -> None:
        while not all(s.waiting or s.finished for s in self.streams):
            await self._bell.wait()
            self._bell = anyio.Event()

    async def run(self, service: Service) -> None:
        """Drive the replay to the end of the records (or ``--to``), then stop the service."""
        self.service = service
        opts = self.options
        real0, first = time.perf_counter(), None
        self.last_ns = self.clock.now
        while True:
            await self._all_at_gates()
            ready = [s for s in self.streams if s.waiting]
            if not ready:
                break
            nxt = min(ready, key=lambda s: (_peek_ns(s), s.index))
            t = _peek_ns(nxt)
            if opts.to_ns is not None and t > opts.to_ns:
                break
            await self._ticks_until(t)
            first = t if first is None else first
            if opts.speed is not None:
                delay = (t - first) / 1e9 / opts.speed - (time.perf_counter() - real0)
                if delay > 0:
                    await anyio.sleep(delay)
            nxt.step_ns, self.last_ns = t, max(self.last_ns, t)
            nxt.waiting = False
            nxt.grant.set()
        await self._ticks_until(self.last_ns + 1)
        await self._settle(lambda: True)
        self.release()
        service.request_stop()

    def release(self) -> None:
        """Let every connector out of its gate (it then parks, cancellably): the replay ends."""
        self.stopping = True
        for s in self.streams:
            s.grant.set()

    async def _ticks_until(self, t_ns: int) -> None:
        """Serve every pipeline boundary before ``t_ns`` on a settled graph."""
        while (due := self.clock.next_due()) is not None and due < t_ns:
            await self._settle(lambda: all(n in self.clock.parked for n in self.clock.tickers))
            self.clock.advance(due)
            await self._settle(lambda: self.clock.all_parked_after(due))

    async def _settle(self, pipelines_ready: Callable[[], bool]) -> None:
        """Wait (checkpoints, then short sleeps) until routed, ingested and ``pipelines_ready``."""
        router = self.service.router if self.service is not None else None
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        spins = 0
        while True:
            quiet = router is None or (
                router.ingress.size == 0 and router.derived.size == 0
                and all(p.channel.size == 0 or p.channel.closed for p in router.pipelines)
            )
            if quiet and pipelines_ready():
                return
            if time.monotonic() > deadline:
                raise RuntimeError("replay: the pipelines did not settle within %ss" % SETTLE_TIMEOUT_S)
            spins += 1
            if spins < 64:
                await anyio.lowlevel.checkpoint()
            else:
                await anyio.sleep(0.001)


def _peek_ns(stream: ReplayStream) -> int:
    record = stream.cursor.peek()
    return record.t_ns if record is not None else 0


class ReplayClock:
    """The connector's clock in replay: the values it read live, in order."""

    def __init__(self, stream: ReplayStream) -> None:
        self.stream = stream

    def __call__(self) -> int:
        s = self.stream
        s.skip_sends()
        record = s.cursor.peek()
        if record is not None and record.kind == CLOCK:
            return s.take().t_ns
        if record is not None:  # past the end of the capture the clock just stands still
            s.stats.counters["replay_diverged"] += 1
            log.warning("replay diverged: a clock read where the capture has %r", record.kind)
        return s.last_ns


class ReplayConnection:
    """Hands back the recorded frames of one connection; sends are checked off, not sent."""

    def __init__(self, stream: ReplayStream, scheduler: Scheduler, conn: int) -> None:
        self.stream = stream
        self.scheduler = scheduler
        self.conn = conn

    def _close_if_recorded(self) -> None:
        record = self.stream.cursor.peek()
        if record is not None and record.kind == CLOSED and record.conn == self.conn:
            self.stream.take()
            info = json.loads(record.payload)
            if info.get("by") == "peer":
                if info.get("error", "ConnectionClosed") == "ConnectionClosed":
                    raise ConnectionClosed(info.get("code"), info.get("reason", ""))
                raise TransportError(info.get("reason", ""))

    async def send_text(self, text: str) -> None:
        await anyio.lowlevel.checkpoint()
        record = self.stream.cursor.peek()
        if record is not None and record.kind == SENT and not record.flags & PING:
            self.stream.take()
            return
        self._close_if_recorded()

    async def recv_batch(self, max_frames: int = 1024) -> list[Frame]:
        s = self.stream
        await self.scheduler.gate(s)
        record = s.cursor.peek()
        if record is None or record.kind != RECV:
            self._close_if_recorded()
            return []  # live, this receive timed out: the next record is the clock read after it
        frames: list[Frame] = []
        while record is not None and record.kind == RECV and (not frames or record.flags & MORE):
            s.take()
            batch = batch_frames(record.payload)
            frames.extend([f.decode() for f in batch] if record.flags & TEXT else batch)
            record = s.cursor.peek()
        return frames

    def take_buffered(self, max_frames: int = 1024) -> list[Frame]:
        return []  # every batch comes through recv_batch, the scheduler's gate

    async def ping(self) -> None:
        record = self.stream.cursor.peek()
        if record is not None and record.kind == SENT and record.flags & PING:
            self.stream.take()

    async def close(self) -> None:
        return None


class ReplayTransport:
    name = "replay"

    def __init__(self, stream: ReplayStream, scheduler: Scheduler) -> None:
        self.stream = stream
        self.scheduler = scheduler

    def connect(self, url: str, *, open_timeout: float = 10.0) -> AbstractAsyncContextManager[WsConnection]:
        return self._connect()

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[WsConnection]:
        s = self.stream
        while (r := s.cursor.peek()) is not None and r.kind not in (OPENED, FAILED):
            s.take()  # a stream cut by retention starts mid-connection: go to the next connect
        await self.scheduler.gate(s)
        record = s.take()
        if record.kind == FAILED:
            raise TransportError(record.payload.decode())
        try:
            yield ReplayConnection(s, self.scheduler, record.conn)
        finally:  # the session ended on its own (stale, ack timeout, age): mdi closed it live
            after = s.cursor.peek()
            if after is not None and after.kind == CLOSED and after.conn == record.conn:
                s.take()


async def _instant_sleep(seconds: float) -> None:
    await anyio.lowlevel.checkpoint()


class ReplayAdapter:
    """The runtime's context adapter for ``mdi replay``."""

    def __init__(self, run_dir: Path, connectors: list[str], options: ReplayOptions) -> None:
        self.stats = ComponentStats(name="replay", kind="replay")
        self.options = options
        self.streams = []
        for index, name in enumerate(connectors):
            directory = run_dir / name
            paths = segments(directory) if directory.is_dir() else []
            if not paths:
                log.warning("no capture for this connector; it stays idle", extra={"connector": name})
            self.streams.append(ReplayStream(name, index, Cursor(paths), self.stats))
        start = min((r.t_ns for s in self.streams if (r := s.cursor.peek()) is not None), default=0)
        if options.from_ns is not None:
            start = max(start, options.from_ns)
        self.clock = VirtualClock(start)
        self.scheduler = Scheduler(self.streams, self.clock, options)
        self._by_name = {s.name: s for s in self.streams}

    def connector(self, ctx: ConnectorContext) -> ConnectorContext:
        stream = self._by_name[ctx.name]
        return replace(
            ctx, transport=ReplayTransport(stream, self.scheduler), clock=ReplayClock(stream),
            sleep=_instant_sleep, emit=self._emit(stream, ctx.emit),
        )

    def _emit(self, stream: ReplayStream, emit: Callable[[list[EventBase]], Awaitable[None]]) -> Callable[[list[EventBase]], Awaitable[None]]:
        start, stop = self.options.from_ns, self.options.to_ns

        async def filtered(batch: list[EventBase]) -> None:
            if not stream.started:  # the first status, before any gate: take a turn for it too
                await self.scheduler.gate(stream)
            if start is not None or stop is not None:
                kept = [e for e in batch if (start is None or e.ts_recv >= start) and (stop is None or e.ts_recv <= stop)]
                self.stats.counters["replay_outside_window"] += len(batch) - len(kept)  # parsed for state only
                batch = kept
            if batch:
                await emit(batch)
            else:
                await anyio.lowlevel.checkpoint()

        return filtered

    def pipeline(self, ctx: PipelineContext) -> PipelineContext:
        return replace(ctx, clock=self.clock, timer=self.clock.timer_for(ctx.name))

    def close(self) -> None:
        return None


async def replay_run(graph: Graph, run_dir: Path, options: ReplayOptions) -> Service:
    """Replay one recorded run into ``graph``'s sinks; returns the stopped service."""
    from mdi.runtime import Service

    from mdi.config import CaptureConfig, HttpConfig, JournalConfig

    graph.config.http = HttpConfig(enabled=False)  # a replay serves no /health (no port clashes)
    # The capture is the replay's own durable source: a replay cut short is simply run again. It
    # takes no sequence numbers from a live journal (two replays into two empty lakes number their
    # events alike) and records no capture of itself.
    graph.config.journal = JournalConfig(enabled=False)
    graph.config.capture = CaptureConfig(enabled=False)
    adapter = ReplayAdapter(run_dir, [n.name for n in graph.connectors], options)
    for node in graph.connectors:
        url = first_url(run_dir / node.name)
        if url is not None and hasattr(node.config, "url"):
            node.config.url = url  # status rows name the URL connected live, not CONFIG's
    service = Service(graph, clock=adapter.clock, adapter=adapter)
    service.stats.components["replay:replay"] = adapter.stats
    async with anyio.create_task_group() as tg:
        await tg.start(_run_service, service)
        try:
            await adapter.scheduler.run(service)
        finally:
            adapter.scheduler.release()  # also on an error: no connector may stay shielded in a gate
            service.request_stop()
    return service


def first_url(directory: Path) -> str | None:
    """The URL of the first recorded connect (``O`` record) of a connector, if any."""
    if not directory.is_dir():
        return None
    cursor = Cursor(segments(directory))
    while (record := cursor.peek()) is not None:
        cursor.pop()
        if record.kind == OPENED:
            return record.payload.decode()
    return None


async def _run_service(service: Service, *, task_status: anyio.abc.TaskStatus[Service]) -> None:
    await service.run(task_status=task_status)
