"""The ``parquet`` sink: buffers per stream, cuts files by size or age, never drops a row.

The router blocks on this sink's bounded channel when it is full (``durable``). So the sink keeps
it simple: it consumes while it can write, and while it cannot (storage failing and being retried
with backoff) it does not consume, and back-pressure builds upstream. Rows already taken out of
the channel stay in memory until a write of them succeeds.

The sink has two writer threads of its own (Arrow parsing, ZSTD, fsync: all without the GIL).
One flush at a time runs there while the sink keeps consuming and converting the next rows; a
second flush that comes due first waits for it, and a flush that failed is retried, with backoff
and without consuming, before anything else is written. Parsing the next rows runs beside the
flush, on the other thread. The sink stays one coroutine: it looks at the flush's result between
batches (and every :data:`POLL_S` while idle).

Events are converted as they arrive, :data:`CONVERT_ROWS` at a time on the event loop, while
they are still in the CPU cache: msgspec writes a flat stream's events as text rows with exact
decimal digits (see :mod:`mdi_parquet.rows`), and every :data:`PARSE_ROWS` of them go to the
writer thread, where Arrow parses them into columns without the GIL, beside the event loop. A
stream's buffer is therefore mostly Arrow columns (a few percent of the memory of the event
objects), and cutting a file only concatenates them and compresses.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from mdi.components import SinkContext
from mdi.events import EventBase
from mdi.logutil import RateLimitedLog
from mdi_parquet.columns import Issues
from mdi_parquet.config import ParquetSinkConfig
from mdi_parquet.index import Recovery
from mdi_parquet.store import Store, StoreError, open_store
from mdi_parquet.writer import WRITE_ERRORS, Built, CommitResult, Converted, LakeWriter, PendingFile, Written

if TYPE_CHECKING:
    from mdi.channel import BatchChannel

# Events encoded per call (a fraction of a ms on the event loop), and at most this many calls
# before the loop may run again: enough that the sink drains a connector's burst (up to 1024
# frames) in one turn, so at full speed the channels stay shallow and back-pressure stays in
# the socket; few enough that a backlog never blocks the loop for more than a few ms.
CONVERT_ROWS = 512
CONVERT_SLICES_PER_TURN = 8
POLL_S = 0.005  # how often an idle sink looks whether the writer thread has finished
# Text rows handed to the writer thread to become Arrow as soon as this many wait: a stream's
# buffer is then mostly compact Arrow columns, and the parsing is spread out, not done per file.
PARSE_ROWS = 16384

Job = tuple[Built, CommitResult]


ROUNDED = (
    "%s: %d value(s) had more fractional digits than scale %d and were rounded half-even (e.g. %s); "
    "the exact text is kept in exact_text. Raise [sinks.parquet] column_scales[%r] or decimal_scale "
    "(under a new root) to store them exactly"
)
NULLED = "%s: %d value(s) could not be stored in the column at all (e.g. %r) and are null; the exact text is kept in exact_text"


class ParquetSink:
    """One coroutine (``run``) after ``open``; blocking work goes to worker threads.

    ``writer_class`` is the thread-side writer; a subclass may swap it (the benchmark's slow disk).
    """

    writer_class: type[LakeWriter] = LakeWriter

    def __init__(self, config: ParquetSinkConfig) -> None:
        self.config = config
        self._ctx: SinkContext | None = None
        self._writer: LakeWriter | None = None
        self._log: RateLimitedLog | None = None
        self._buffers: dict[type[EventBase], list[EventBase]] = {}  # not yet converted
        self._converted: dict[type[EventBase], list[Converted]] = {}
        self._converted_rows: dict[type[EventBase], int] = {}
        self._since: dict[type[EventBase], float] = {}  # monotonic time a stream's oldest row came
        self._pending: list[PendingFile] = []
        self._buffered = 0  # rows taken from the channel and not yet in a visible file
        self._executor: ThreadPoolExecutor | None = None
        self._job: Future[Job] | None = None  # the flush running in the writer thread
        # For SinkContext.committed: a lower bound of the first seq of each stream's buffer and of
        # the flush in the writer thread, and the last seq received (what is committed when
        # nothing is outstanding). Batches arrive in sequence order.
        self._first: dict[type[EventBase], int] = {}
        self._job_first: int | None = None
        self._received = 0

    @property
    def watermark(self) -> int | None:
        """Highest sequence number in a visible file (None for an empty lake)."""
        return self._writer.watermark if self._writer else None

    def recovery_marks(self) -> dict[str, int]:
        """The journal's recovery contract: per stream, the highest seq in a visible file; every
        lower event of that stream is in a file too (files are committed in order, each a run of
        consecutive rows, see ``LakeWriter._split``)."""
        _, writer = self._opened()
        return {stream: head.last_seq for stream, head in writer.heads.items()}

    # ----- Sink protocol ------------------------------------------------------------------
    async def open(self, ctx: SinkContext) -> int | None:
        """Create the lake if needed, remove crash leftovers, return the persisted watermark."""
        writer = self.writer_class(
            self._store(), self.config.scales(), self.config.compression_level, ctx.clock, ctx.stats.latency.buckets,
            instance=ctx.instance,
        )
        found = await self._recover(writer, ctx)
        ctx.stats.state, ctx.stats.detail = "ok", ""
        self._ctx, self._writer = ctx, writer
        self._log = RateLimitedLog(ctx.log, self.config.warn_interval)
        ctx.stats.counters["tmp_cleaned"] += found.tmp_cleaned
        self._update_gauges()
        ctx.log.info(
            "parquet lake opened",
            extra={
                "root": writer.vdir,
                "instance": writer.instance,
                "watermark": found.watermark,
                "tmp_cleaned": found.tmp_cleaned,
                "full_scan": found.full_scan,
                "footers_read": found.footers_read,
            },
        )
        return found.watermark

    async def _recover(self, writer: LakeWriter, ctx: SinkContext) -> Recovery:
        """The watermark; while an object store cannot be reached, wait and retry with backoff.

        Without its watermark the service must not start (sequence numbers would be reused),
        but an object store being away for a while is normal: so the sink waits, ``down`` with
        the reason, instead of exiting into a restart loop. A local directory that cannot be
        created or read is a configuration problem and still fails start-up at once.
        """
        delay = self.config.backoff_initial
        while True:
            try:
                return await anyio.to_thread.run_sync(writer.recover)
            except StoreError as exc:
                ctx.stats.state, ctx.stats.detail = "down", f"cannot read the lake: {exc}"
                ctx.stats.counters["write_errors"] += 1
                ctx.log.error("parquet lake unreachable at start-up; retrying", extra={"error": str(exc), "retry_in_s": delay})
            await anyio.sleep(delay)
            delay = min(delay * 2, self.config.backoff_max)

    def _store(self) -> Path | Store:
        root = self.config.root
        return open_store(root, self.config.store_options()) if root.startswith("s3://") else Path(root)

    async def run(self, inbox: BatchChannel[EventBase]) -> None:
        """Consume until the channel is closed and drained, then write everything and return."""
        ctx, writer = self._opened()
        # Two threads: a flush (which waits for its slices' parsing) never blocks the parsing.
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"mdi-{ctx.name}")
        try:
            while (batch := await self._receive(inbox)) is not None:
                if self._job is not None and self._job.done():
                    await self._settle()
                self._add(batch)
                await self._convert_full_slices()
                ctx.stats.queue_depth = self._buffered
                due = self._due()
                if due:
                    await self._flush(due)
            await self._flush(list(self._buffers))
            await self._settle()
        finally:
            self._executor.shutdown(wait=False)
        try:
            await anyio.to_thread.run_sync(writer.close)
        except WRITE_ERRORS as exc:  # the data is safe; only the next start reads more footers
            ctx.log.warning("could not update the lake index at close", extra={"error": str(exc)})

    # ----- buffering ----------------------------------------------------------------------
    async def _receive(self, inbox: BatchChannel[EventBase]) -> list[EventBase] | None:
        """The next batch; ``[]`` when a stream's flush interval ends first; None when closed."""
        limit = self.config.buffer_rows  # so a file exceeds buffer_rows by at most one batch
        ready = inbox.get_nowait(limit)  # queued events need no timer (a cancel scope per batch adds up)
        if ready:
            return ready
        wait = min(self._since.values()) + self.config.flush_interval - anyio.current_time() if self._since else math.inf
        if self._job is not None:
            wait = min(wait, POLL_S)  # look at the writer thread's result soon
        if wait == math.inf:
            return await inbox.get(limit)
        with anyio.move_on_after(wait):
            return await inbox.get(limit)
        return []

    def _add(self, batch: list[EventBase]) -> None:
        """Append each event to its stream's buffer (one ``extend`` when the batch is one kind)."""
        kinds = set(map(type, batch))
        for kind in kinds:
            if kind not in self._buffers:
                self._first[kind] = batch[0].seq  # a lower bound of the stream's first seq
        if batch:
            self._received = batch[-1].seq
        if len(kinds) == 1:
            self._buffer(kinds.pop()).extend(batch)
        else:
            append = {kind: self._buffer(kind).append for kind in kinds}
            for event in batch:
                append[type(event)](event)
        self._buffered += len(batch)

    def _buffer(self, kind: type[EventBase]) -> list[EventBase]:
        buffer = self._buffers.get(kind)
        if buffer is None:
            buffer = self._buffers[kind] = []
            self._since[kind] = anyio.current_time()
        return buffer

    def _rows(self, kind: type[EventBase]) -> int:
        return len(self._buffers[kind]) + self._converted_rows.get(kind, 0)

    def _due(self) -> list[type[EventBase]]:
        """Streams whose buffer is full or whose oldest row has waited ``flush_interval``."""
        limit, oldest = self.config.buffer_rows, anyio.current_time() - self.config.flush_interval
        return [k for k in self._buffers if self._rows(k) >= limit or self._since[k] <= oldest]

    async def _convert_full_slices(self) -> None:
        """Convert every full :data:`CONVERT_ROWS` slice of unconverted events, letting the loop
        run every :data:`CONVERT_SLICES_PER_TURN` slices. State is consistent at every ``await``:
        a slice leaves ``_buffers`` in the same step it joins ``_converted``."""
        done = 0
        for kind, events in self._buffers.items():
            while len(events) >= CONVERT_ROWS:
                self._convert(kind, events, CONVERT_ROWS)
                done += 1
                if done % CONVERT_SLICES_PER_TURN == 0:
                    await anyio.lowlevel.checkpoint()

    def _convert(self, kind: type[EventBase], events: list[EventBase], count: int) -> None:
        _, writer = self._opened()
        converted = self._converted.setdefault(kind, [])
        converted.append(writer.convert(kind, events[:count]))
        self._converted_rows[kind] = self._converted_rows.get(kind, 0) + count
        del events[:count]
        self._parse_full_groups(kind, converted)

    def _parse_full_groups(self, kind: type[EventBase], converted: list[Converted]) -> None:
        """Hand the trailing unparsed text slices to the writer thread once they hold
        :data:`PARSE_ROWS` rows; they are replaced, in place, by one slice that is ``parsing``."""
        start = len(converted)
        rows = 0
        while start and converted[start - 1].unparsed:
            start -= 1
            rows += converted[start].rows
        if rows < PARSE_ROWS or self._executor is None:
            return
        _, writer = self._opened()
        lines = [part.text for part in converted[start:]]
        converted[start:] = [Converted(rows=rows, parsing=self._executor.submit(writer.parse, kind, lines))]

    # ----- writing ------------------------------------------------------------------------
    async def _flush(self, kinds: list[type[EventBase]]) -> None:
        """Hand the given streams' rows to the writer thread (after the previous flush is done)."""
        _, writer = self._opened()
        await self._settle()
        parts: dict[type[EventBase], list[Converted]] = {}
        for kind in kinds:
            events = self._buffers.pop(kind, None)
            if events is None:
                continue
            if events:
                self._convert(kind, events, len(events))
            parts[kind] = self._converted.pop(kind, [])
            del self._since[kind]
            first = self._first.pop(kind)
            self._job_first = first if self._job_first is None else min(self._job_first, first)
            self._converted_rows.pop(kind, None)
        if parts:
            assert self._executor is not None
            self._job = self._executor.submit(self._assemble_and_commit, writer, parts)

    @staticmethod
    def _assemble_and_commit(writer: LakeWriter, parts: dict[type[EventBase], list[Converted]]) -> Job:
        """The writer thread's whole flush: parse and concatenate, then write every file."""
        built = writer.assemble(parts)
        return built, writer.commit(built.files)

    async def _settle(self) -> None:
        """Wait for the flush in the writer thread, account for it, and retry what failed."""
        job = self._job
        if job is None:
            return
        while not job.done():
            await anyio.sleep(POLL_S)
        self._job = None
        built, result = job.result()  # a bug in the writer (not an I/O error) stops the sink here
        self._report_inexact(built.issues)
        self._record(result.written)
        self._pending.extend(built.files[len(result.written) :])
        self._job_first = None
        self._report_committed()
        if result.error is None:
            self._mark_up()
            return
        self._mark_down(result.error, self.config.backoff_initial)
        await anyio.sleep(self.config.backoff_initial)
        await self._commit(min(self.config.backoff_initial * 2, self.config.backoff_max))

    async def _commit(self, delay: float) -> None:
        """Write every pending file, retrying with capped exponential backoff while storage fails.

        Nothing is consumed meanwhile, so the channel fills and the router waits: durable.
        """
        _, writer = self._opened()
        while self._pending:
            result = await anyio.to_thread.run_sync(writer.commit, list(self._pending))
            del self._pending[: len(result.written)]
            self._record(result.written)
            self._report_committed()
            if result.error is None:
                self._mark_up()
                return
            self._mark_down(result.error, delay)
            await anyio.sleep(delay)
            delay = min(delay * 2, self.config.backoff_max)

    def _record(self, written: list[Written]) -> None:
        ctx, _ = self._opened()
        counters = ctx.stats.counters
        for item in written:
            counters["rows"] += item.rows
            counters["files"] += 1
            counters["bytes"] += item.size
            item.latency.add_to(ctx.stats.latency)
            self._buffered -= item.rows
            if item.renamed:
                counters["name_collisions"] += 1
                ctx.log.error("file name already taken; wrote under a suffixed name", extra={"file": item.rel_path})
        self._update_gauges()

    def _report_committed(self) -> None:
        """Tell the journal how far every event given to this sink is in a visible file."""
        ctx, _ = self._opened()
        firsts = [*self._first.values(), *(p.first_seq for p in self._pending)]
        if self._job_first is not None:
            firsts.append(self._job_first)
        ctx.committed(min(firsts) - 1 if firsts else self._received)

    def _mark_up(self) -> None:
        ctx, _ = self._opened()
        ctx.stats.counters["flushes"] += 1
        if ctx.stats.state != "ok":
            ctx.log.info("parquet writes recovered", extra={"buffered_rows": self._buffered})
            ctx.stats.state, ctx.stats.detail = "ok", ""

    def _mark_down(self, error: Exception, retry_in: float) -> None:
        ctx, _ = self._opened()
        ctx.stats.state = "down"
        ctx.stats.detail = f"write failed: {type(error).__name__}: {error}"
        ctx.stats.counters["write_errors"] += 1
        assert self._log is not None
        self._log.error(
            "write_failed",
            "parquet write failed (%s); %d rows kept in memory, not consuming; retry in %.1fs",
            ctx.stats.detail, self._buffered, retry_in,
        )

    def _report_inexact(self, issues: dict[str, Issues]) -> None:
        """Count and log (rate-limited per column) the values that were not stored exactly."""
        ctx, writer = self._opened()
        assert self._log is not None
        for stream, found in issues.items():
            for column, n in found.rounded.items():
                ctx.stats.counters["decimal_rounded"] += n
                name, scale = f"{stream}.{column}", writer.scales.of(stream, column)
                self._log.warning(f"decimal_rounded:{name}", ROUNDED, name, n, scale, found.examples[column], name)
            for column, n in found.nulled.items():
                ctx.stats.counters["values_nulled"] += n
                name = f"{stream}.{column}"
                self._log.error(f"values_nulled:{name}", NULLED, name, n, found.examples[column])

    def _update_gauges(self) -> None:
        ctx, writer = self._opened()
        gauges = ctx.stats.gauges
        if writer.watermark is not None:
            gauges["watermark"] = writer.watermark
        gauges["pending_files"] = len(self._pending)
        ctx.stats.queue_depth = self._buffered

    def _opened(self) -> tuple[SinkContext, LakeWriter]:
        if self._ctx is None or self._writer is None:
            raise RuntimeError("ParquetSink.run() called before open()")
        return self._ctx, self._writer
