"""The segment files on disk: scanning at open, appending with fsync, releasing whole segments.

Blocking code only: every method runs in the journal's worker thread (or at start-up, before
anything is routed). Every file created or removed is made durable with an fsync of the file
and of the directory, so after a crash a segment is either absent or there with its header.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mdi.journal.format import MAGIC, RESERVE, SegmentScan, frame, scan_segment, segment_index, segment_name


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Segment:
    path: Path
    index: int
    size: int
    max_event_seq: int  # 0: no events (yet)


@dataclass
class Opened:
    """What :meth:`SegmentStore.open` found: the old segments (oldest first, torn tails cut)."""

    scans: list[SegmentScan]
    high_seq: int  # every number any run has handed out or reserved is <= this

    @property
    def torn_bytes(self) -> int:
        return sum(s.torn_bytes for s in self.scans)

    @property
    def torn_segments(self) -> int:
        return sum(1 for s in self.scans if s.torn_bytes)


class SegmentStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.segments: list[Segment] = []  # oldest first; the last one is being written
        self._fd: int | None = None

    @property
    def active(self) -> Segment:
        return self.segments[-1]

    @property
    def total_bytes(self) -> int:
        return sum(s.size for s in self.segments)

    # ----- start-up -----------------------------------------------------------------------
    def open(self) -> Opened:
        """Scan every segment, cut torn tails (durably), and note the high-water mark."""
        created = not self.root.is_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        if created:
            fsync_dir(self.root.parent)
        scans = []
        for entry in sorted(self.root.iterdir()):
            index = segment_index(entry.name)
            if index is None or not entry.is_file():
                continue
            scan = scan_segment(entry, index)
            if scan.torn_bytes:
                self._cut(scan)
            scans.append(scan)
        self.segments = [Segment(s.path, s.index, s.good_size, s.max_event_seq) for s in scans]
        return Opened(scans=scans, high_seq=max((s.max_seq for s in scans), default=0))

    def _cut(self, scan: SegmentScan) -> None:
        with open(scan.path, "r+b") as f:
            if scan.good_size < len(MAGIC):
                f.truncate(0)
                f.write(MAGIC)
                scan.good_size = len(MAGIC)
            else:
                f.truncate(scan.good_size)
            f.flush()
            os.fsync(f.fileno())

    # ----- writing ------------------------------------------------------------------------
    def begin_segment(self, reserved: int) -> None:
        """Close the active segment and start a new one whose first record is the reservation,
        so the high-water mark survives the release of every older segment."""
        self.close()
        index = self.segments[-1].index + 1 if self.segments else 1
        path = self.root / segment_name(index)
        head = MAGIC + frame(RESERVE, reserved, reserved)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            _write_all(fd, head)
            os.fsync(fd)
            fsync_dir(self.root)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self._fd = fd
        self.segments.append(Segment(path, index, len(head), 0))

    def write(self, chunks: list[bytes | bytearray], max_event_seq: int) -> None:
        """Append and fsync. On an error the file is cut back to where it was, so a later retry
        of the same chunks never leaves a half-written record in the middle of a segment."""
        assert self._fd is not None, "begin_segment() first"
        active = self.active
        try:
            _write_all(self._fd, b"".join(chunks))
            os.fsync(self._fd)
        except OSError:
            try:
                os.ftruncate(self._fd, active.size)
                os.lseek(self._fd, active.size, os.SEEK_SET)
            except OSError:
                pass
            raise
        active.size += sum(map(len, chunks))
        active.max_event_seq = max(active.max_event_seq, max_event_seq)

    def release(self, committed: int) -> list[Segment]:
        """Remove every closed segment whose events all have ``seq <= committed``."""
        gone = []
        while len(self.segments) > 1 and self.segments[0].max_event_seq <= committed:
            segment = self.segments.pop(0)
            segment.path.unlink(missing_ok=True)
            gone.append(segment)
        if gone:
            fsync_dir(self.root)
        return gone

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
