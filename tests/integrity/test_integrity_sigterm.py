"""SIGTERM under load loses nothing (issue #11, point 3).

A real ``mdi run`` process reads a Kraken simulator that blasts pre-framed frames over loopback as
fast as the process takes them; mid-stream it gets SIGTERM. After exit 0, every event the
connector counted (its final ``events``, logged at stop) must be a row in the lake, read back
with DuckDB, and the router's sequence numbers must be exactly those rows. Repeated: the loss
this guards against (a cancelled ``emit`` dropping a parsed batch) hit most trials, not all.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pytest

from bench.blaster import Blaster, kraken_pool
from mdi_kraken.sim import KrakenSimulator

TRIALS = 8
EVENTS_BEFORE_SIGTERM = (3_000, 8_000)  # alternating: the signal lands at different depths


def run_config(tmp: Path, url: str) -> Path:
    path = tmp / "config.toml"
    path.write_text(f"""
[connectors.kraken]
url = "{url}"
[sinks.parquet]
root = "{tmp / 'lake'}"
[http]
enabled = false
[logging]
level = "INFO"
""")
    return path


def final_counts(stderr: str) -> dict[str, Any]:
    for line in stderr.splitlines():
        if line.startswith("{") and '"service stopped"' in line:
            record: dict[str, Any] = json.loads(line)
            return record
    raise AssertionError(f"no 'service stopped' line in:\n{stderr[-3000:]}")


def lake_rows(root: Path) -> tuple[int, int, list[int]]:
    """(kraken rows of the event streams, status rows, every seq) from the Parquet lake."""
    con = duckdb.connect()
    v1 = root / "v1"
    rows = 0
    seqs: list[int] = []
    status = 0
    for stream in sorted(p.name for p in v1.iterdir() if p.is_dir()):
        got = con.execute(
            f"SELECT seq, venue FROM read_parquet('{v1}/{stream}/**/*.parquet', hive_partitioning=true)"
        ).fetchall()
        seqs += [seq for seq, _ in got]
        if stream == "status":
            status += len(got)
        else:
            rows += sum(1 for _, venue in got if venue == "kraken")
    return rows, status, seqs


async def one_trial(sim: KrakenSimulator, blaster: Blaster, tmp: Path, stop_after: int) -> None:
    tmp.mkdir()
    cfg = run_config(tmp, sim.sim_url())
    with anyio.fail_after(30):
        while sim.subscribers:  # the previous trial's connection is gone
            await anyio.sleep(0.02)
    blaster.error = ""
    command = [sys.executable, "-m", "mdi.cli", "run", str(cfg)]
    async with await anyio.open_process(command, stdout=subprocess.DEVNULL) as proc:
        stderr = bytearray()

        async def drain() -> None:
            assert proc.stderr is not None
            async for chunk in proc.stderr:
                stderr.extend(chunk)

        async with anyio.create_task_group() as tg:
            tg.start_soon(drain)
            with anyio.fail_after(60):
                while not sim.subscribers:  # the process connected and subscribed
                    await anyio.sleep(0.02)
                stop = asyncio.Event()
                start = blaster.events
                tg.start_soon(blaster.run, 0.0, stop)
                while blaster.events - start < stop_after and not blaster.error:
                    await anyio.sleep(0.005)
                mid_stream = blaster.running and not blaster.error
                proc.send_signal(signal.SIGTERM)  # mid-stream: the blaster is still sending
                code = await proc.wait()
            stop.set()
    text = stderr.decode()
    assert code == 0, text[-3000:]
    record = final_counts(text)
    counted = record["venues"]["kraken"]["events"]
    rows, status, seqs = lake_rows(tmp / "lake")
    assert mid_stream and counted >= stop_after // 4, (blaster.error, record)  # the signal came mid-stream, under load
    assert record["venues"]["kraken"]["undelivered"] == 0
    assert rows == counted, (rows, counted)  # every counted event is in the lake
    assert rows + status == record["routed"] == len(seqs) == len(set(seqs))
    assert sorted(seqs) == list(range(1, record["last_seq"] + 1))  # no number lost or given twice


@pytest.mark.anyio
async def test_sigterm_mid_blast_loses_no_counted_event(tmp_path: Path) -> None:
    async with KrakenSimulator() as sim:
        blaster = Blaster(sim, kraken_pool())
        for trial in range(TRIALS):
            await one_trial(sim, blaster, tmp_path / f"trial{trial}", EVENTS_BEFORE_SIGTERM[trial % 2])
