"""When files are cut: at ``buffer_rows`` per stream, after ``flush_interval`` even when nothing
else arrives, and everything at a clean stop."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from parquet_support import T0, data_files, file_meta, running_sink, stamped, tmp_files, trades, wait_until

from mdi.events import ConnectionStatus


def rows_per_file(root: Path) -> list[int]:
    return [int(file_meta(f)["mdi.rows"]) for f in data_files(root)]


@pytest.mark.anyio
async def test_a_full_buffer_is_written_while_the_sink_keeps_running(tmp_path: Path) -> None:
    events = trades(250, step_ns=1_000)  # all in one hour
    async with running_sink(tmp_path, buffer_rows=100, flush_interval=3600) as run:
        for i in range(0, 250, 50):
            await run.channel.put(events[i : i + 50])
        await wait_until(lambda: run.stats.counters["files"] == 2 and run.stats.queue_depth == 50)
        assert sorted(rows_per_file(tmp_path)) == [100, 100]
        assert not run.channel.closed
    assert sorted(rows_per_file(tmp_path)) == [50, 100, 100]  # the rest at the clean stop
    assert tmp_files(tmp_path) == []


@pytest.mark.anyio
async def test_flush_interval_fires_without_new_batches(tmp_path: Path) -> None:
    async with running_sink(tmp_path, buffer_rows=100_000, flush_interval=0.5) as run:
        await run.channel.put(trades(10))
        await anyio.sleep(0.05)
        assert data_files(tmp_path) == []  # not yet: neither full nor old
        await wait_until(lambda: run.stats.counters["flushes"] == 1, timeout=5)
        assert rows_per_file(tmp_path) == [10] and run.stats.state == "ok"
        assert not run.channel.closed  # nothing closed the channel: the timer did it


@pytest.mark.anyio
async def test_each_stream_has_its_own_buffer_and_timer(tmp_path: Path) -> None:
    status = stamped([ConnectionStatus(venue="kraken", symbol="", ts_recv=T0, state="connected")], first_seq=1)
    async with running_sink(tmp_path, buffer_rows=100, flush_interval=3600) as run:
        await run.channel.put(status)
        await run.channel.put(trades(100, first_seq=2, step_ns=1_000))
        await wait_until(lambda: len(data_files(tmp_path)) == 1)
        assert "/trade/" in data_files(tmp_path)[0].as_posix()  # status waits for its own reason
    assert sorted(f.parts[-4] for f in data_files(tmp_path)) == ["status", "trade"]
