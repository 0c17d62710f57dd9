"""The segment writer on a real disk: rotation by size, retention by size, the bounded hand-off
(a full queue drops and counts, never waits), and segments cut by a crash still read back."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mdi.capture.format import OPEN_SUFFIX, SENT, SUFFIX, encode, read_segment, segments
from mdi.capture.writer import CaptureWriter
from mdi.config import CaptureConfig
from mdi.stats import ComponentStats


def records(n: int, size: int = 200) -> list[bytes]:
    return [encode(SENT, 0, 1, 1_000 + i, (b"%08d" % i) * (size // 8)) for i in range(n)]


def read_all(directory: Path) -> list[int]:
    return [r.t_ns for p in segments(directory) for r in read_segment(p)[1]]


def test_rotation_by_size_keeps_every_record_in_order(tmp_path: Path) -> None:
    stats = ComponentStats(name="capture", kind="capture")
    writer = CaptureWriter(tmp_path, "run-a", CaptureConfig(rotate_bytes=20_000), stats)
    for i, record in enumerate(records(1000)):
        writer.add("kraken", record)
        if i % 100 == 0:
            time.sleep(0.06)  # let the writer thread drain between bursts: several segments
    writer.close()
    directory = tmp_path / "run-a" / "kraken"
    paths = segments(directory)
    assert len(paths) > 3 and all(p.name.endswith(SUFFIX) for p in paths)
    assert read_all(directory) == [1_000 + i for i in range(1000)]
    assert stats.counters["capture_records"] == 1000 and stats.counters["capture_dropped"] == 0


def test_retention_deletes_the_oldest_closed_segments(tmp_path: Path) -> None:
    stats = ComponentStats(name="capture", kind="capture")
    cfg = CaptureConfig(rotate_bytes=20_000, retention_bytes=6_000)
    writer = CaptureWriter(tmp_path, "run-a", cfg, stats)
    for i, record in enumerate(records(1000)):
        writer.add("kraken", record)
        if i % 100 == 0:
            time.sleep(0.06)
    writer.close()
    directory = tmp_path / "run-a" / "kraken"
    kept = read_all(directory)
    assert sum(p.stat().st_size for p in segments(directory)) <= 6_000
    assert kept and kept == list(range(kept[0], 1_000 + 1000))  # the newest, contiguous


def test_a_full_hand_off_drops_and_counts_instead_of_waiting(tmp_path: Path) -> None:
    stats = ComponentStats(name="capture", kind="capture")
    writer = CaptureWriter(tmp_path, "run-a", CaptureConfig(buffer_bytes=10_000), stats)
    for record in records(2000):
        writer.add("kraken", record)  # faster than any disk: the 10 kB hand-off fills up
    writer.close()
    written = len(read_all(tmp_path / "run-a" / "kraken"))
    assert stats.counters["capture_dropped"] > 0
    assert written == stats.counters["capture_records"] == 2000 - stats.counters["capture_dropped"]


def test_an_open_segment_cut_short_reads_up_to_the_cut(tmp_path: Path) -> None:
    stats = ComponentStats(name="capture", kind="capture")
    writer = CaptureWriter(tmp_path, "run-a", CaptureConfig(), stats)
    for i, record in enumerate(records(500)):
        writer.add("kraken", record)
        if i % 50 == 0:
            time.sleep(0.06)  # several drains: several flushed zstd blocks, as in a live run
    deadline = time.monotonic() + 30
    directory = tmp_path / "run-a" / "kraken"
    while time.monotonic() < deadline and not (directory.exists() and segments(directory)):
        time.sleep(0.01)
    # What a kill -9 leaves: the .open file as flushed so far, cut mid-block.
    (path,) = segments(directory)
    while time.monotonic() < deadline and stats.counters["capture_records"] < 500:
        time.sleep(0.01)
    time.sleep(0.2)  # the last drain's flush
    data = path.read_bytes()
    writer.close()
    cut = tmp_path / f"cut{OPEN_SUFFIX}"
    cut.write_bytes(data[: len(data) * 2 // 3])
    _, got = read_segment(cut)
    assert 0 < len(got) <= 500
    assert [r.t_ns for r in got] == [1_000 + i for i in range(len(got))]


def test_a_file_that_is_not_a_capture_is_refused(tmp_path: Path) -> None:
    path = tmp_path / f"x{SUFFIX}"
    path.write_bytes(os.urandom(64))
    with pytest.raises(Exception):
        read_segment(path)


def test_a_one_frame_batch_is_packed_as_any_batch() -> None:
    """The one-frame fast path writes exactly the bytes of the general batch encoder."""
    from mdi.capture.format import HEADER, batch_frames
    from mdi.capture.record import RecordingConnection, Stream, _batch

    class Keep:
        def __init__(self) -> None:
            self.records: list[bytes] = []

        def add_parts(self, connector: str, parts: list[bytes], size: int, records: int) -> None:
            self.records.append(b"".join(parts))

    keep = Keep()
    conn = RecordingConnection(None, Stream("kraken", keep, lambda: 42), 3)  # type: ignore[arg-type]
    frame = b'{"channel":"heartbeat"}'
    conn._frames([frame])
    conn._frames([frame, b"x"])
    conn._frames(["text", "frames"])
    assert keep.records[0] == _batch(0, 3, 42, [frame])
    assert keep.records[1] == _batch(0, 3, 42, [frame, b"x"])
    assert batch_frames(keep.records[2][HEADER.size:]) == [b"text", b"frames"] and keep.records[2][1] == 1  # TEXT
