"""The write-ahead journal: every routed batch, made durable in group commits.

The router calls :meth:`Journal.reserve_through` before it stamps a batch and :meth:`append`
after; both return at once in the common case (a comparison; an encode and a list append). A
worker thread wakes every ``fsync_interval``, writes everything appended since, fsyncs, and
releases the segments every durable sink has committed (:meth:`committed`). So kill -9 loses at
most the last ``fsync_interval`` (plus one commit's duration) of routed events.

Sequence numbers are reserved ahead (hi-lo): a ``RESERVE`` record saying "numbers up to N may be
handed out" is durable before the router stamps any number up to N. Redis and Pub/Sub see events
before their group commit; a restart continues above N, so no number a consumer saw is reused.

Back-pressure, never loss: while the disk refuses writes (ENOSPC, EIO) or the journal is at
``max_bytes``, the worker keeps the records in memory and retries; once ``max_pending_bytes``
wait, :meth:`append` waits, the router waits, and the durable path stops (``/health`` 503 with
the reason, from the ``journal`` entry in the service's sink stats). A failed write is cut back
off the file before the retry, so nothing half-written stays in the middle of a segment.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable

import anyio

from mdi.events import EventBase
from mdi.journal.config import JournalConfig
from mdi.journal.format import RESERVE, encode_batch, frame
from mdi.journal.store import Opened, SegmentStore
from mdi.stats import SinkStats

log = logging.getLogger("mdi.journal")
WAIT_POLL_S = 0.002  # how often a waiting append looks again (waits happen only under back-pressure)


class Journal:
    def __init__(self, config: JournalConfig, stats: SinkStats) -> None:
        self.config = config
        self.stats = stats
        self.store = SegmentStore(Path(config.root))
        self.opened: Opened | None = None
        self.reserved = 0  # durable: no number above it has been handed out
        self.durable_seq = 0  # every routed event up to here is on disk
        self._cond = threading.Condition()
        self._pending: list[bytes | bytearray] = []  # appended, not yet taken by the worker
        self._pending_seq = 0
        self._waiting_bytes = 0  # pending + taken but not yet durable (what back-pressure counts)
        self._want_reserved = 0
        self._marks: dict[str, int] = {}  # durable sink -> every event up to this seq is committed
        self._closing = False
        self._abandoned = False  # a forced close gave up: the worker stops at its next turn
        self._thread: threading.Thread | None = None
        self._blocked = ""  # why the worker cannot write (empty when it can)

    # ----- start-up (blocking; before anything is routed) -----------------------------------
    def open(self) -> Opened:
        """Scan the segments (torn tails cut and counted); the high-water mark is then known."""
        opened = self.opened = self.store.open()
        counters = self.stats.counters
        counters["torn_segments"] += opened.torn_segments
        counters["torn_bytes"] += opened.torn_bytes
        self._update_gauges()
        return opened

    def start(self, first_seq: int) -> None:
        """Reserve numbers from ``first_seq`` durably in a new segment, then start the worker."""
        self.reserved = self._want_reserved = first_seq - 1 + self.config.reserve
        self.durable_seq = first_seq - 1
        self.store.begin_segment(self.reserved)
        self._thread = threading.Thread(target=self._work, name="mdi-journal", daemon=True)
        self._thread.start()
        self._update_gauges()

    def register(self, sink: str) -> None:
        """A durable sink that reports its commits; segments wait for it before release."""
        self._marks.setdefault(sink, 0)

    # ----- the router's side (event loop) ---------------------------------------------------
    async def reserve_through(self, last_seq: int) -> None:
        """Return once ``last_seq`` is within the durable reservation (asks for more early)."""
        if last_seq > self.reserved - self.config.reserve // 2 and self._want_reserved < last_seq + self.config.reserve:
            with self._cond:
                self._want_reserved = last_seq + self.config.reserve
                self._cond.notify()
        if last_seq > self.reserved:
            self.stats.counters["reserve_waits"] += 1
            while last_seq > self.reserved:
                await anyio.sleep(WAIT_POLL_S)

    async def append(self, batch: list[EventBase]) -> None:
        """Queue one stamped batch for the next group commit; waits while too much waits."""
        record = encode_batch(batch)
        if self._over(len(record)):
            self.stats.counters["append_waits"] += 1
            while self._over(len(record)):
                await anyio.sleep(WAIT_POLL_S)
        with self._cond:
            self._pending.append(record)
            self._pending_seq = batch[-1].seq
            self._waiting_bytes += len(record)
        counters = self.stats.counters
        counters["events"] += len(batch)
        counters["records"] += 1

    def _over(self, size: int) -> bool:
        """Would one more record of ``size`` exceed ``max_pending_bytes``? (One always fits alone.)"""
        return self._waiting_bytes > 0 and self._waiting_bytes + size > self.config.max_pending_bytes

    def committed(self, sink: str, seq: int) -> None:
        """A durable sink's report: every event it was given with ``seq <= seq`` is committed."""
        if sink in self._marks and seq > self._marks[sink]:  # only sinks that take part count
            self._marks[sink] = seq

    async def close(self, give_up: Callable[[], bool] = lambda: False) -> bool:
        """Commit everything appended, then stop the worker (the ordered shutdown's last step).

        While the disk refuses writes this waits for space (a clean stop loses nothing), unless
        ``give_up()`` turns true (a forced exit): then it returns False and what still waited in
        memory is lost (logged). The worker is a daemon thread: it does not hold the process."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        thread = self._thread
        while thread is not None and thread.is_alive():
            if give_up():
                self._abandoned = True
                log.error("journal closed before its last records were durable (forced exit)",
                          extra={"bytes_lost": self._waiting_bytes, "reason": self._blocked})
                return False
            await anyio.sleep(WAIT_POLL_S * 10)
        self.store.close()
        self._update_gauges()
        return True

    # ----- the worker thread ----------------------------------------------------------------
    def _work(self) -> None:
        interval = self.config.fsync_interval
        taken: list[bytes | bytearray] = []  # records taken and not yet durable (kept across a failed write)
        taken_seq = 0
        deadline = time.monotonic()
        while True:
            deadline += interval
            with self._cond:
                self._cond.wait_for(lambda: self._closing, timeout=max(0.0, deadline - time.monotonic()))
                taken += self._pending
                self._pending = []
                taken_seq = max(taken_seq, self._pending_seq)
                want, closing = self._want_reserved, self._closing
            if self._commit(taken, taken_seq, want):
                taken = []
            elif self._abandoned:
                return
            elif closing:
                time.sleep(self.config.retry_interval)  # keep trying: a clean stop loses nothing
            else:
                deadline = time.monotonic() + self.config.retry_interval - interval
            if closing and not taken:
                with self._cond:
                    if not self._pending:
                        return

    def _commit(self, taken: list[bytes | bytearray], taken_seq: int, want: int) -> bool:
        """One group commit (and segment release); False while the disk refuses it."""
        self._release()
        chunks = list(taken)
        if want > self.reserved:
            chunks.insert(0, frame(RESERVE, want, want))
        if not chunks:
            return True
        size = sum(map(len, chunks))
        try:
            if self.store.active.size + size > self.config.segment_bytes and self.store.active.size > 0:
                if not self._room(size):
                    return False
                self.store.begin_segment(max(want, self.reserved))
            elif not self._room(size):
                return False
            started = time.monotonic()
            self.store.write(chunks, taken_seq)
        except OSError as exc:
            self._block(f"journal write failed: {type(exc).__name__}: {exc}", error=True)
            return False
        self._committed_ok(taken, taken_seq, want, time.monotonic() - started)
        return True

    def _room(self, size: int) -> bool:
        if self.store.total_bytes + size <= self.config.max_bytes:
            return True
        oldest = self.store.segments[0]
        self._block(
            f"journal full: {self.store.total_bytes} of max_bytes {self.config.max_bytes} bytes; waiting for the durable "
            f"sinks to commit seq {oldest.max_event_seq} (oldest segment {oldest.path.name})"
        )
        return False

    def _committed_ok(self, taken: list[bytes | bytearray], taken_seq: int, want: int, seconds: float) -> None:
        self.reserved = max(self.reserved, want)
        self.durable_seq = max(self.durable_seq, taken_seq)
        with self._cond:
            self._waiting_bytes -= sum(map(len, taken))
        counters = self.stats.counters
        counters["commits"] += 1
        counters["bytes_written"] += sum(map(len, taken))
        self.stats.gauges["last_commit_seconds"] = round(seconds, 6)
        if self._blocked:
            log.info("journal writes recovered", extra={"was": self._blocked})
            self._blocked = ""
            self.stats.state, self.stats.detail = "ok", ""
        self._update_gauges()

    def _block(self, why: str, error: bool = False) -> None:
        if error:
            self.stats.counters["write_errors"] += 1
        if why != self._blocked:
            log.error("journal cannot write; the durable path waits", extra={"reason": why})
        self._blocked = why
        self.stats.state, self.stats.detail = "down", f"{why}; {self._waiting_bytes} bytes waiting in memory"
        self._update_gauges()

    def _release(self) -> None:
        committed = min(self._marks.values()) if self._marks else self.durable_seq
        try:
            gone = self.store.release(min(committed, self.durable_seq))
        except OSError as exc:
            log.warning("could not release journal segments", extra={"error": str(exc)})
            return
        self.stats.counters["segments_released"] += len(gone)

    def _update_gauges(self) -> None:
        gauges = self.stats.gauges
        gauges["bytes"] = self.store.total_bytes
        gauges["segments"] = len(self.store.segments)
        gauges["pending_bytes"] = self._waiting_bytes
        gauges["durable_seq"] = self.durable_seq
        gauges["reserved_seq"] = self.reserved
        self.stats.queue_depth = 0
