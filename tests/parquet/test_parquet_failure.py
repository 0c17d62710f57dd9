"""Storage failing: the sink goes ``down``, keeps every row, stops consuming (so the bounded
channel fills and the producer waits), retries with backoff and comes back ``ok``.

We run as root, and ``chmod`` does not stop root. So a directory is made unwritable honestly by
putting a regular *file* where the sink needs a directory: ``mkdir`` then fails with
``FileExistsError`` / ``NotADirectoryError`` for every user, exactly like a read-only or
vanished mount would fail a write. Removing the file makes the path writable again.
"""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import duckdb
import pytest
from mdi.components import SinkContext
from mdi.stats import SinkStats
from mdi_parquet.sink import ParquetSink
from parquet_support import config, data_files, open_sink, read_stream, running_sink, tmp_files, trades, wait_until

FAST_RETRY = {"backoff_initial": 0.02, "backoff_max": 0.1, "flush_interval": 0.05}


def block(path: Path) -> None:
    """Make ``path`` unusable as a directory by putting a file there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("not a directory")


@pytest.mark.anyio
async def test_write_failure_marks_down_keeps_rows_and_recovers(tmp_path: Path) -> None:
    async with running_sink(tmp_path, **FAST_RETRY) as run:
        block(tmp_path / "v1" / "trade")
        await run.channel.put(trades(100))
        await wait_until(lambda: run.stats.state == "down")
        assert "FileExistsError" in run.stats.detail or "NotADirectoryError" in run.stats.detail
        await wait_until(lambda: run.stats.counters["write_errors"] >= 3)  # it keeps retrying
        assert run.stats.queue_depth == 100 and data_files(tmp_path) == []

        (tmp_path / "v1" / "trade").unlink()  # storage is back
        await wait_until(lambda: run.stats.state == "ok")
        assert run.stats.detail == ""
        assert run.stats.counters["rows"] == 100 and run.stats.queue_depth == 0
    assert read_stream(tmp_path, "trade").column("seq").to_pylist() == list(range(1, 101))
    assert tmp_files(tmp_path) == []


@pytest.mark.anyio
async def test_while_down_the_channel_fills_and_the_producer_waits_nothing_is_dropped(tmp_path: Path) -> None:
    events = trades(1000)
    produced: list[int] = []

    async with running_sink(tmp_path, capacity=200, buffer_rows=100, **FAST_RETRY) as run:
        block(tmp_path / "v1" / "trade")

        async def producer() -> None:
            for i in range(0, len(events), 50):
                await run.channel.put(events[i : i + 50])
                produced.append(i + 50)

        async with anyio.create_task_group() as tg:
            tg.start_soon(producer)
            await wait_until(lambda: run.stats.state == "down" and run.channel.size == run.channel.capacity)
            stuck_at = produced[-1]
            await anyio.sleep(0.3)  # several retries later: still down, still full, producer blocked
            assert run.channel.size == run.channel.capacity == 200
            assert produced[-1] == stuck_at < len(events)
            assert run.stats.counters["rows"] == 0
            (tmp_path / "v1" / "trade").unlink()
        assert produced[-1] == len(events)  # the producer finished once writes worked again

    seqs = read_stream(tmp_path, "trade").column("seq").to_pylist()
    assert seqs == list(range(1, 1001))  # every row, once, in order
    count, distinct = duckdb.execute(
        "SELECT count(*), count(DISTINCT seq) FROM read_parquet(?, hive_partitioning = true)",
        [f"{tmp_path}/v1/trade/**/*.parquet"],
    ).fetchone()
    assert (count, distinct) == (1000, 1000)
    assert run.stats.state == "ok"


@pytest.mark.anyio
async def test_a_lost_root_fails_writes_including_the_index_then_recovers(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    async with running_sink(root, **FAST_RETRY) as run:
        (root / "v1").rename(tmp_path / "moved")
        block(root / "v1")  # the version directory itself is gone: even the index cannot be written
        await run.channel.put(trades(10))
        await wait_until(lambda: run.stats.state == "down")
        (root / "v1").unlink()
        await wait_until(lambda: run.stats.state == "ok")
    assert read_stream(root, "trade").num_rows == 10
    _, _, watermark = await open_sink(root)
    assert watermark == 10


@pytest.mark.anyio
async def test_an_unusable_root_fails_open_loudly(tmp_path: Path) -> None:
    """The config check refuses such a root (tests/integrity); one that breaks after the check
    still fails the sink's open, never silently."""
    sink = ParquetSink(config(tmp_path / "lake"))
    block(tmp_path / "lake")
    stats = SinkStats(name="parquet", delivery="durable")
    with pytest.raises(OSError):
        await sink.open(SinkContext(name="parquet", stats=stats, log=logging.getLogger("mdi.sink.parquet")))
