"""`mdi run` as a user runs it, against a Kraken simulator whose REST API is down: SIGTERM while a
repair is retrying stops the process cleanly, and the lake holds the streamed trades and a gap
row saying the repair was cut short."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import duckdb
import pytest
from backfill_support import wait_for

from mdi_kraken.sim import KrakenSimulator

pytestmark = pytest.mark.anyio
PAIR = "BTC/USD"


def write_config(tmp_path: Path, sim: KrakenSimulator) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"""
[connectors.kraken]
url = "{sim.url}"
rest_url = "{sim.rest_url}"
bbo = false
backfill_min_interval = 0.01
backfill_backoff_max = 0.05
backfill_retries = 100000
[sinks.parquet]
root = "{tmp_path / 'lake'}"
[http]
enabled = false
[logging]
format = "json"
""")
    return cfg


async def test_sigterm_mid_repair_stops_cleanly_and_the_hole_says_why(tmp_path: Path) -> None:
    async with KrakenSimulator(heartbeat_interval=0.2) as sim:
        sim.rest_faults.extend([503] * 1_000_000)
        env = {**os.environ, "MDI_LOAD_PLUGINS": "kraken,parquet"}
        command = [sys.executable, "-m", "mdi.cli", "run", str(write_config(tmp_path, sim))]
        log = (tmp_path / "stderr.log").open("w")  # a file, not a pipe: a full pipe would block mdi
        async with await anyio.open_process(command, env=env, stdout=subprocess.DEVNULL, stderr=log) as proc:
            await wait_for(lambda: bool(sim.subscribers), timeout=30)
            await sim.publish_trades(PAIR, [("buy", "68500.1", "0.01000000")])
            sim.withhold_trades(PAIR, 4)
            await sim.publish_trades(PAIR, [("sell", "68500.0", "0.02000000")])
            await wait_for(lambda: len(sim.rest_requests) >= 5, timeout=30)  # retrying, still failing
            proc.send_signal(signal.SIGTERM)
            with anyio.fail_after(30):
                returncode = await proc.wait()
        log.close()
        err = (tmp_path / "stderr.log").read_text()
        assert returncode == 0, err
        assert "stopped cleanly" in err
    lake = tmp_path / "lake" / "v1"
    gaps = duckdb.sql(f"SELECT repair, repair_reason, expected, received, missing FROM read_parquet('{lake}/gap/**/*.parquet') "
                      "WHERE channel = 'trade'").fetchall()
    trades = duckdb.sql(f"SELECT CAST(trade_id AS BIGINT), source FROM read_parquet('{lake}/trade/**/*.parquet') ORDER BY 1").fetchall()
    assert [t[1] for t in trades] == ["ws", "ws"]
    first, last = trades[0][0], trades[1][0]
    assert gaps == [("unrepairable", "shutdown", first + 1, last, 4)] and last == first + 5
