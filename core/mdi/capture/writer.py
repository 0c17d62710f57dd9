"""Writing segments off the event loop: a bounded hand-off to one writer thread.

The connector's task only packs a record and appends it to a deque (no lock, no syscall). The
writer thread drains the deque every ``DRAIN_INTERVAL_S``, compresses with zstd (pyarrow's codec,
which releases the GIL) and rotates/prunes segments. What is queued is bounded by
``buffer_bytes``: past it a record is dropped and counted (``capture_dropped``), never waited for,
so a slow disk cannot stall ingest or grow memory without bound.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path

import pyarrow as pa

from mdi.capture.format import OPEN_SUFFIX, SUFFIX, segment_header, segments
from mdi.config import CaptureConfig
from mdi.stats import ComponentStats

DRAIN_INTERVAL_S = 0.05


class SegmentFiles:
    """One connector's segment sequence: the open stream, rotation by size and age, retention."""

    def __init__(self, directory: Path, connector: str, run: str, config: CaptureConfig) -> None:
        self.directory = directory
        self.connector = connector
        self.run = run
        self.config = config
        self.index = 0
        self.stream: pa.CompressedOutputStream | None = None
        self.path: Path | None = None
        self.size = 0
        self.opened_at = 0.0

    def write(self, chunk: bytes) -> None:
        if self.stream is None or self._due():
            self.rotate()
        assert self.stream is not None
        self.stream.write(chunk)
        self.size += len(chunk)

    def _due(self) -> bool:
        cfg = self.config
        return self.size >= cfg.rotate_bytes or (cfg.rotate_seconds > 0 and time.monotonic() - self.opened_at >= cfg.rotate_seconds)

    def rotate(self) -> None:
        self.close()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.index += 1
        self.path = self.directory / f"{self.index:06d}{OPEN_SUFFIX}"
        self.stream = pa.CompressedOutputStream(pa.OSFile(str(self.path), "wb"), "zstd")
        header = segment_header(self.connector, self.run, self.index)
        self.stream.write(header)
        self.size, self.opened_at = len(header), time.monotonic()

    def flush(self) -> None:
        if self.stream is not None:
            self.stream.flush()

    def close(self) -> None:
        """Finish the zstd stream and drop ``.open``; then apply retention to closed segments."""
        if self.stream is None or self.path is None:
            return
        self.stream.close()
        self.path.rename(self.path.with_name(self.path.name[: -len(".open")]))
        self.stream = None
        self.prune()

    def prune(self) -> None:
        cfg = self.config
        closed = [p for p in segments(self.directory) if p.name.endswith(SUFFIX)]
        now = time.time()
        sizes = {p: p.stat().st_size for p in closed}
        total = sum(sizes.values())
        for p in closed:  # oldest first
            too_big = cfg.retention_bytes > 0 and total > cfg.retention_bytes
            too_old = cfg.retention_seconds > 0 and now - p.stat().st_mtime > cfg.retention_seconds
            if not (too_big or too_old):
                break
            p.unlink()
            total -= sizes[p]


class CaptureWriter:
    """The loop side (``add``) and the thread side (``_drain``) of the hand-off."""

    def __init__(self, root: Path, run: str, config: CaptureConfig, stats: ComponentStats) -> None:
        self.root = root / run
        self.run = run
        self.config = config
        self.stats = stats
        self._queue: deque[tuple[str, list[bytes]]] = deque()
        self._files: dict[str, SegmentFiles] = {}
        self._limit = config.buffer_bytes
        self._queued = 0  # bytes appended (loop thread only)
        self._records = 0  # records appended (loop thread only); the writer publishes both below
        self._written = 0  # bytes taken (writer thread only)
        for key in ("capture_records", "capture_bytes", "capture_dropped", "capture_write_errors"):
            stats.counters[key] += 0  # every key exists up front: the writer thread only assigns values
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="mdi-capture", daemon=True)
        self._thread.start()

    def add(self, connector: str, record: bytes) -> None:
        """Queue one record; drop and count it when the hand-off is full (never wait)."""
        self.add_parts(connector, [record], len(record), 1)

    def add_parts(self, connector: str, parts: list[bytes], size: int, records: int) -> None:
        """Queue ``records`` records (``parts`` joined; ``size`` bytes, 0 = measure) or drop them, counted."""
        size = size or sum(map(len, parts))
        if self._queued - self._written + size > self._limit or self._error is not None:
            self.stats.counters["capture_dropped"] += records
            return
        self._queued += size
        self._records += records
        self._queue.append((connector, parts))

    def _loop(self) -> None:
        try:
            while not self._stop.wait(DRAIN_INTERVAL_S):
                self._drain()
            self._drain()
        except BaseException as exc:  # noqa: BLE001 - a broken disk must not kill ingest: counted
            self._error = exc
            self.stats.counters["capture_write_errors"] += 1
        finally:
            for files in self._files.values():
                try:
                    files.close()
                except OSError:
                    self.stats.counters["capture_write_errors"] += 1

    def _drain(self) -> None:
        counters = self.stats.counters
        counters["capture_records"], counters["capture_bytes"] = self._records, self._queued
        by_connector: dict[str, list[bytes]] = {}
        queue = self._queue
        taken = 0
        while queue:
            connector, parts = queue.popleft()
            by_connector.setdefault(connector, []).extend(parts)
            taken += sum(map(len, parts))
        for connector, records in by_connector.items():
            files = self._files.get(connector)
            if files is None:
                files = self._files[connector] = SegmentFiles(self.root / connector, connector, self.run, self.config)
            files.write(b"".join(records))
            files.flush()
        self._written += taken

    def close(self) -> None:
        """Write what is queued, finish every segment (idempotent)."""
        self._stop.set()
        self._thread.join()
        self.stats.counters["capture_records"], self.stats.counters["capture_bytes"] = self._records, self._queued
