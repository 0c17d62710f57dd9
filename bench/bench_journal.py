"""Journal throughput and recovery speed. Run: ``python -m bench.bench_journal [--events N]``.

- ``append``: the router's side and the worker together: 500-event trade batches are reserved,
  encoded (msgpack, exact decimals) and appended, with group commits (write + fsync) every
  ``fsync_interval`` in the worker thread, until the last batch is durable. Events/s and CPU
  microseconds per event (process CPU: loop and worker);
- ``scan``: opening the journal: every record's checksum and sequence numbers (no decoding);
- ``replay``: scan + decode + hand every event to a channel (what recovery costs by itself);
- ``recover``: replay into the real Parquet sink until every row is in a visible file: the rows/s
  a restart after a crash recovers at (``docs/performance.md``).

Events are made as in :mod:`bench.bench_parquet` (decoded from venue-like JSON).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from bench.bench_parquet import make_events
from mdi.channel import BatchChannel
from mdi.components import SinkContext
from mdi.events import EventBase
from mdi.journal import Journal, JournalConfig, Target, replay
from mdi.stats import SinkStats
from mdi_parquet.config import ParquetSinkConfig
from mdi_parquet.sink import ParquetSink

BATCH = 500


def new_journal(root: Path) -> Journal:
    return Journal(JournalConfig(enabled=True, root=str(root)), SinkStats(name="journal", delivery="durable"))


async def bench_append(events: list[EventBase], root: Path) -> dict[str, float]:
    journal = new_journal(root)
    journal.open()
    journal.register("lake")  # a durable sink that has committed nothing yet: every segment stays
    journal.start(1)
    cpu0, t0 = time.process_time(), time.perf_counter()
    for i in range(0, len(events), BATCH):
        batch = events[i : i + BATCH]
        await journal.reserve_through(batch[-1].seq)
        await journal.append(batch)
    while journal.durable_seq < events[-1].seq:
        await anyio.sleep(0.001)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    await journal.close()
    n = len(events)
    return {"events_per_s": n / elapsed, "cpu_us_per_event": cpu / n * 1e6,
            "bytes_per_event": journal.stats.counters["bytes_written"] / n, "commits": journal.stats.counters["commits"]}


async def bench_replay(root: Path, n: int) -> dict[str, float]:
    t0 = time.perf_counter()
    journal = new_journal(root)
    journal.open()
    scanned = time.perf_counter() - t0
    channel: BatchChannel[EventBase] = BatchChannel("sink:count", 10**9)
    t1 = time.perf_counter()
    done = await replay(journal, [Target("count", channel, {})])
    decoded = time.perf_counter() - t1
    assert done.rows == n, done
    return {"scan_rows_per_s": n / scanned, "replay_rows_per_s": n / decoded}


async def bench_recover(root: Path, lake: Path, n: int) -> float:
    """From the journal's open to the last recovered row visible in the lake."""
    t0 = time.perf_counter()
    journal = new_journal(root)
    journal.open()
    sink = ParquetSink(ParquetSinkConfig(root=str(lake), flush_interval=3600))
    stats = SinkStats(name="parquet", delivery="durable")
    ctx = SinkContext(name="parquet", stats=stats, log=logging.getLogger("bench.journal"))
    await sink.open(ctx)
    channel: BatchChannel[EventBase] = BatchChannel("sink:parquet", 200_000)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sink.run, channel)
        done = await replay(journal, [Target("parquet", channel, sink.recovery_marks())])
        channel.close()
    elapsed = time.perf_counter() - t0
    assert done.rows == n and stats.counters["rows"] == n, (done, stats.counters)
    return n / elapsed


def measure(n: int = 500_000) -> dict[str, Any]:
    events = make_events("trade", n)
    with tempfile.TemporaryDirectory(prefix="mdi-bench-journal-") as tmp:
        root = Path(tmp) / "journal"
        out: dict[str, Any] = {"events": n, "append": anyio.run(bench_append, events, root, backend="asyncio")}
        out.update(anyio.run(bench_replay, root, n, backend="asyncio"))
        out["recover_rows_per_s"] = anyio.run(bench_recover, root, Path(tmp) / "lake", n, backend="asyncio")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=500_000, help="trade events (default 500000)")
    args = parser.parse_args()
    r = measure(args.events)
    a = r["append"]
    print(f"journal, {r['events']:,} trade events in {BATCH}-event batches")
    print(f"  append (encode + group commit, until durable): {a['events_per_s']:>12,.0f} events/s "
          f"{a['cpu_us_per_event']:.2f} CPU us/event, {a['bytes_per_event']:.0f} bytes/event, {a['commits']} commits")
    print(f"  scan (checksums):                {r['scan_rows_per_s']:>12,.0f} rows/s")
    print(f"  replay (scan + decode):          {r['replay_rows_per_s']:>12,.0f} rows/s")
    print(f"  recover into the Parquet sink:   {r['recover_rows_per_s']:>12,.0f} rows/s (until every row is visible)")


if __name__ == "__main__":
    main()
