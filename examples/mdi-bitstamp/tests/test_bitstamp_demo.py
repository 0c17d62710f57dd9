"""``mdi demo`` with the plugin installed, as a user runs it: a real process against the built-in
simulator, stopped in order; its trades and top of book are in the lake (read with DuckDB)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb


def test_demo_records_bitstamp_trades_to_the_lake(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"""
[connectors.bitstamp]
[sinks.parquet]
root = "{tmp_path / 'lake'}"
flush_interval = 0.5
[http]
port = 0
[logging]
level = "WARNING"
""")
    result = subprocess.run(
        [sys.executable, "-m", "mdi.cli", "demo", str(config), "--duration", "3", "--rate", "40"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"connector\s+bitstamp\s+from mdi-bitstamp 0\.1\.0", result.stderr), result.stderr[-3000:]
    lake = tmp_path / "lake-demo" / "v1"  # mdi demo writes its own lake, never the configured one
    con = duckdb.connect()
    trades = con.execute(
        f"SELECT venue, symbol, count(*), count(DISTINCT trade_id), min(price) > 0 "
        f"FROM read_parquet('{lake}/trade/**/*.parquet', hive_partitioning=true) GROUP BY 1, 2"
    ).fetchall()
    assert len(trades) == 1
    venue, symbol, rows, distinct, positive = trades[0]
    assert (venue, symbol, positive) == ("bitstamp", "BTC-USD", True)
    assert rows == distinct and rows >= 5, trades
    bbo = con.execute(
        f"SELECT count(*), bool_and(bid_px < ask_px) FROM read_parquet('{lake}/bbo/**/*.parquet', hive_partitioning=true)"
    ).fetchone()
    assert bbo is not None and bbo[0] >= 10 and bbo[1], bbo
