"""A full journal disk, for real: the journal lives on a small tmpfs mounted for this test (CI runs
as root on this kind of machine), a filler file takes every free byte while ``mdi run`` is under
load, and then goes away.

While the disk is full the durable path waits (back-pressure up to the venue socket), /health
answers 503 naming the journal and the reason, and nothing is corrupted: when space returns the
journal catches up, /health is 200 again, and after a SIGTERM every event the Kraken simulator
sent is a row, every sequence number once, and the journal scans clean (no torn bytes)."""

from __future__ import annotations

import errno
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import anyio
import pytest

from bench.full import Child
from bench.lake import count_lake
from mdi.channel import BatchChannel
from mdi.events import EventBase
from mdi.journal import Target, replay
from mdi.testing.redis_server import RedisServer

from crash_support import MdiRun, crash_config, wait_for
from journal_support import batch, new_journal

TMPFS_SIZE = "16m"


@contextmanager
def small_disk(path: Path) -> Iterator[Path]:
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(path)], capture_output=True, text=True)
    assert mounted.returncode == 0, f"this test mounts a tmpfs and needs root (as CI has): {mounted.stderr.strip()}"
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk refuses another byte."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
        try:
            while True:
                f.write(b"\0" * 512)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def test_full_journal_disk_waits_reports_503_and_recovers_without_loss(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with RedisServer() as server, small_disk(tmp_path / "disk") as disk:
        journal = disk / "journal"
        sim = Child("simulators", ["-m", "bench.simproc", "--background-rate", "20"], tmp_path / "sim.log")
        try:
            config = tmp_path / "config.toml"
            text = crash_config(sim.next(60)["urls"], lake, journal, server.url, 0.05)
            config.write_text(limit_journal(text))
            run = MdiRun(config, tmp_path / "run.log")
            run.wait_live()
            sim.request("blast 3000", timeout=60)
            filler = fill(disk)

            def blocked() -> str:
                code, body = run.health()
                why = [r for r in body["reasons"] if r.startswith("sink journal (durable) is down")]
                return why[0] if code == 503 and why else ""

            reason = wait_for(blocked, 60, "/health 503 for the journal", every=0.1)
            assert "No space left on device" in reason
            # the router waits (counted once per wait; none before the disk filled: far below the allowance)
            wait_for(lambda: run.metric("mdi_sink_append_waits_total") >= 1, 60, "the router waiting")
            filler.unlink()
            wait_for(lambda: run.health()[0] == 200, 60, "/health 200 once space returned", every=0.1)
            time.sleep(1.0)  # a little more load after the recovery
            sent = sim.request("stop", timeout=60)
            expected = sent["events"] + sent["snapshot_events"]
            wait_for(lambda: run.health()[1]["venues"]["kraken"]["events"] >= expected, 120, "every Kraken event received")
            assert run.stop() == 0
        finally:
            sim.close()
        counted = count_lake(lake)
        assert counted.venue_rows == expected > 0  # every event the simulator sent is a row
        assert counted.rows == counted.distinct_seq and counted.tmp_files == 0
        after = new_journal(journal)
        assert after.open().torn_bytes == 0  # the refused writes were cut back: nothing corrupted


def limit_journal(text: str) -> str:
    """Small segments and a small in-memory allowance, so the wait reaches the router quickly;
    a small ingress, so it reaches the venue socket too."""
    text = text.replace("ingress_capacity = 200000", "ingress_capacity = 5000")
    return text.replace("[journal]\n", "[journal]\nmax_pending_bytes = 262144\n", 1).replace(
        "segment_bytes = 67108864", "segment_bytes = 1048576")


@pytest.mark.anyio
async def test_refused_writes_are_retried_and_cut_back_and_a_forced_close_gives_up(tmp_path: Path) -> None:
    """The journal alone on a full tmpfs: it turns down with the reason, keeps the records and
    writes them once space returns; a forced close while the disk is full returns at once; the
    file holds exactly the records that were made durable, nothing half-written."""
    with small_disk(tmp_path / "disk") as disk:
        journal = new_journal(disk / "journal", fsync_interval=0.01, retry_interval=0.05)
        journal.open()
        journal.start(1)
        filler = fill(disk)
        await journal.reserve_through(100)
        await journal.append(batch(1, 100))
        await until(lambda: journal.stats.state == "down")
        assert "No space left on device" in journal.stats.detail and journal.durable_seq == 0
        filler.unlink()
        await until(lambda: journal.durable_seq == 100 and journal.stats.state == "ok")
        filler = fill(disk)
        await journal.append(batch(101, 100))
        await until(lambda: journal.stats.counters["write_errors"] >= 3)
        assert await journal.close(give_up=lambda: True) is False
        worker = journal._thread
        assert worker is not None
        await anyio.to_thread.run_sync(worker.join, 30)
        assert not worker.is_alive()  # the worker stopped too: nothing keeps retrying behind the caller
        reopened = new_journal(disk / "journal")
        assert reopened.open().torn_bytes == 0
        channel: BatchChannel[EventBase] = BatchChannel("sink:t", 10_000)
        await replay(reopened, [Target("t", channel, {})])
        channel.close()
        assert [e.seq for b in [b async for b in channel] for e in b] == list(range(1, 101))


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.01)
