"""The journal on disk: records survive a reopen exactly, a torn or corrupt tail is detected by
its length or checksum, dropped, counted and cut off the file; numbers are reserved ahead and
survive the release of old segments; a segment goes only once every durable sink committed it."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from mdi.channel import BatchChannel
from mdi.events import EventBase, encode_events
from mdi.journal import Target, replay
from mdi.journal.format import EVENTS, encode_batch, frame

from journal_support import batch, new_journal, segments, wait_for, write_journal

pytestmark = pytest.mark.anyio


async def replay_all(root: Path, marks: dict[str, int] | None = None) -> tuple[list[EventBase], object]:
    journal = new_journal(root)
    opened = journal.open()
    channel: BatchChannel[EventBase] = BatchChannel("sink:test", 1_000_000)
    done = await replay(journal, [Target("test", channel, marks or {})])
    channel.close()
    got = [e for b in [b async for b in channel] for e in b]
    assert done.rows == len(got)
    return got, opened


async def test_records_round_trip_exactly(tmp_path: Path) -> None:
    batches = [batch(1, 100), batch(101, 7), batch(108, 1)]
    await write_journal(tmp_path, batches)
    got, opened = await replay_all(tmp_path)
    assert encode_events(got) == encode_events([e for b in batches for e in b])  # exact decimals, every field
    assert opened.torn_bytes == 0  # type: ignore[attr-defined]


async def test_torn_tail_is_dropped_counted_and_cut(tmp_path: Path) -> None:
    batches = [batch(1, 50), batch(51, 50)]
    await write_journal(tmp_path, batches)
    [segment] = segments(tmp_path)
    whole = segment.stat().st_size
    half_written = encode_batch(batch(101, 50))[:-17]  # a crash in the middle of a write
    with segment.open("ab") as f:
        f.write(half_written)
    got, opened = await replay_all(tmp_path)
    assert [e.seq for e in got] == list(range(1, 101))
    assert opened.torn_bytes == len(half_written)  # type: ignore[attr-defined]
    assert segment.stat().st_size == whole  # cut off durably, so the next scan is clean
    journal = new_journal(tmp_path)
    assert journal.open().torn_bytes == 0


async def test_corrupt_last_record_fails_its_checksum(tmp_path: Path) -> None:
    await write_journal(tmp_path, [batch(1, 10), batch(11, 10)])
    [segment] = segments(tmp_path)
    data = bytearray(segment.read_bytes())
    last = len(encode_batch(batch(11, 10)))
    data[-5] ^= 0xFF  # one flipped bit pattern inside the last record's payload
    segment.write_bytes(bytes(data))
    stats_journal = new_journal(tmp_path)
    opened = stats_journal.open()
    assert opened.torn_bytes == last
    assert stats_journal.stats.counters["torn_bytes"] == last
    assert stats_journal.stats.counters["torn_segments"] == 1
    got, _ = await replay_all(tmp_path)
    assert [e.seq for e in got] == list(range(1, 11))


async def test_a_whole_record_of_unknown_events_is_skipped_and_counted(tmp_path: Path) -> None:
    await write_journal(tmp_path, [batch(1, 10)])
    [segment] = segments(tmp_path)
    with segment.open("ab") as f:
        f.write(frame(EVENTS, 11, 12, b"\x92\x81\xa4kind\xa5alien\x81\xa4kind\xa5alien"))  # checksum holds
        f.write(encode_batch(batch(13, 5)))
    journal = new_journal(tmp_path)
    journal.open()
    channel: BatchChannel[EventBase] = BatchChannel("sink:test", 1000)
    done = await replay(journal, [Target("test", channel, {})])
    channel.close()
    assert done.undecodable == 1
    assert [e.seq for b in [b async for b in channel] for e in b] == [*range(1, 11), *range(13, 18)]


async def test_reservation_is_durable_and_above_every_number_used(tmp_path: Path) -> None:
    await write_journal(tmp_path, [batch(1, 10)], reserve=5000)
    assert new_journal(tmp_path).open().high_seq == 5000  # reserved at start, before any was used
    # a run that uses numbers faster than its block asks for more, durably, before using them
    await write_journal(tmp_path, [batch(5001, 3000), batch(8001, 3000)], reserve=5000)
    assert new_journal(tmp_path).open().high_seq >= 11_000


async def test_replay_hands_each_sink_only_what_it_lacks(tmp_path: Path) -> None:
    await write_journal(tmp_path, [batch(1, 20), batch(21, 20)])
    got, _ = await replay_all(tmp_path, {"trade": 30, "bbo": 10})
    expected = [s for s in range(1, 41) if (s % 2 == 1 and s > 30) or (s % 2 == 0 and s > 10)]
    assert [e.seq for e in got] == expected


async def test_segments_are_released_only_when_every_sink_committed(tmp_path: Path) -> None:
    journal = new_journal(tmp_path, segment_bytes=64 * 1024, fsync_interval=0.01)
    journal.open()
    journal.register("a")
    journal.register("b")
    journal.start(1)
    seq = 1
    while len(segments(tmp_path)) < 4:
        b = batch(seq, 500)
        await journal.reserve_through(b[-1].seq)
        await journal.append(b)
        seq += 500
        await anyio.sleep(0.02)
    first = segments(tmp_path)[0]
    journal.committed("a", seq - 1)
    await anyio.sleep(0.2)  # several group commits: nothing may go while "b" has committed nothing
    assert first.exists()
    journal.committed("b", seq - 1)
    released = journal.stats.counters
    await anyio.to_thread.run_sync(lambda: wait_for(lambda: released["segments_released"] >= 3, what="release"))
    assert len(segments(tmp_path)) == 1  # all but the one being written
    await journal.close()
    # the reservation is in the segment that remains: a restart still continues above it
    assert new_journal(tmp_path).open().high_seq >= seq - 1
