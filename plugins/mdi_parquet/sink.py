"""The ``parquet`` sink: buffers per stream, cuts files by size or age, never drops a row.

The router blocks on this sink's bounded channel when it is full (``durable``). So the sink keeps
it simple: it consumes while it can write, and while it cannot (a flush in progress, or storage
failing and being retried with backoff) it does not consume, and back-pressure builds upstream.
Rows already taken out of the channel stay in memory until a write of them succeeds.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from mdi.components import SinkContext
from mdi.events import EventBase
from mdi.logutil import RateLimitedLog
from mdi_parquet.columns import Issues
from mdi_parquet.config import ParquetSinkConfig
from mdi_parquet.writer import WRITE_ERRORS, LakeWriter, PendingFile, Written

if TYPE_CHECKING:
    from mdi.channel import BatchChannel


ROUNDED = (
    "%s: %d value(s) had more fractional digits than scale %d and were rounded half-even (e.g. %s); "
    "the exact text is kept in exact_text. Raise [sinks.parquet] column_scales[%r] or decimal_scale "
    "(under a new root) to store them exactly"
)
NULLED = "%s: %d value(s) could not be stored in the column at all (e.g. %r) and are null; the exact text is kept in exact_text"


class ParquetSink:
    """One coroutine (``run``) after ``open``; blocking work goes to worker threads."""

    def __init__(self, config: ParquetSinkConfig) -> None:
        self.config = config
        self._ctx: SinkContext | None = None
        self._writer: LakeWriter | None = None
        self._log: RateLimitedLog | None = None
        self._buffers: dict[type[EventBase], list[EventBase]] = {}
        self._since: dict[type[EventBase], float] = {}  # monotonic time a stream's oldest row came
        self._pending: list[PendingFile] = []
        self._buffered = 0  # rows taken from the channel and not yet in a visible file

    @property
    def watermark(self) -> int | None:
        """Highest sequence number in a visible file (None for an empty lake)."""
        return self._writer.watermark if self._writer else None

    # ----- Sink protocol ------------------------------------------------------------------
    async def open(self, ctx: SinkContext) -> int | None:
        """Create the lake if needed, remove crash leftovers, return the persisted watermark."""
        writer = LakeWriter(
            Path(self.config.root), self.config.scales(), self.config.compression_level, ctx.clock, ctx.stats.latency.buckets
        )
        found = await anyio.to_thread.run_sync(writer.recover)
        self._ctx, self._writer = ctx, writer
        self._log = RateLimitedLog(ctx.log, self.config.warn_interval)
        ctx.stats.counters["tmp_cleaned"] += found.tmp_cleaned
        self._update_gauges()
        ctx.log.info(
            "parquet lake opened",
            extra={
                "root": str(writer.vdir),
                "watermark": found.watermark,
                "tmp_cleaned": found.tmp_cleaned,
                "full_scan": found.full_scan,
                "footers_read": found.footers_read,
            },
        )
        return found.watermark

    async def run(self, inbox: BatchChannel[EventBase]) -> None:
        """Consume until the channel is closed and drained, then write everything and return."""
        ctx, writer = self._opened()
        while (batch := await self._receive(inbox)) is not None:
            self._add(batch)
            ctx.stats.queue_depth = self._buffered
            due = self._due()
            if due:
                await self._flush(due)
        await self._flush(list(self._buffers))
        try:
            await anyio.to_thread.run_sync(writer.close)
        except WRITE_ERRORS as exc:  # the data is safe; only the next start reads more footers
            ctx.log.warning("could not update the lake index at close", extra={"error": str(exc)})

    # ----- buffering ----------------------------------------------------------------------
    async def _receive(self, inbox: BatchChannel[EventBase]) -> list[EventBase] | None:
        """The next batch; ``[]`` when a stream's flush interval ends first; None when closed."""
        limit = self.config.buffer_rows  # so a file exceeds buffer_rows by at most one batch
        if not self._since:
            return await inbox.get(limit)
        wait = min(self._since.values()) + self.config.flush_interval - anyio.current_time()
        with anyio.move_on_after(wait):
            return await inbox.get(limit)
        return []

    def _add(self, batch: list[EventBase]) -> None:
        """Append each event to its stream's buffer (one ``extend`` when the batch is one kind)."""
        kinds = set(map(type, batch))
        if len(kinds) == 1:
            self._buffer(kinds.pop()).extend(batch)
        else:
            buffer = self._buffer
            for event in batch:
                buffer(type(event)).append(event)
        self._buffered += len(batch)

    def _buffer(self, kind: type[EventBase]) -> list[EventBase]:
        buffer = self._buffers.get(kind)
        if buffer is None:
            buffer = self._buffers[kind] = []
            self._since[kind] = anyio.current_time()
        return buffer

    def _due(self) -> list[type[EventBase]]:
        """Streams whose buffer is full or whose oldest row has waited ``flush_interval``."""
        limit, oldest = self.config.buffer_rows, anyio.current_time() - self.config.flush_interval
        return [k for k, rows in self._buffers.items() if len(rows) >= limit or self._since[k] <= oldest]

    # ----- writing ------------------------------------------------------------------------
    async def _flush(self, kinds: list[type[EventBase]]) -> None:
        """Build the given streams' files in a worker thread, then commit until it succeeds."""
        _, writer = self._opened()
        batches = {kind: self._buffers.pop(kind) for kind in kinds if kind in self._buffers}
        for kind in batches:
            del self._since[kind]
        if batches:
            built = await anyio.to_thread.run_sync(writer.build, batches)
            self._pending.extend(built.files)
            self._report_inexact(built.issues)
        await self._commit()

    async def _commit(self) -> None:
        """Write every pending file, retrying with capped exponential backoff while storage fails.

        Nothing is consumed meanwhile, so the channel fills and the router waits: durable.
        """
        _, writer = self._opened()
        delay = self.config.backoff_initial
        while self._pending:
            result = await anyio.to_thread.run_sync(writer.commit, list(self._pending))
            del self._pending[: len(result.written)]
            self._record(result.written)
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
