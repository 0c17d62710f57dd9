"""A replay takes nothing from a live journal: two replays of one capture into two empty lakes,
with a config whose ``[journal]`` (one shared root, as the shipped config has) and ``[capture]``
are on, number their events alike from 1, and neither leaves a journal or a capture behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

BUNDLED = Path(__file__).resolve().parents[2] / "core" / "mdi" / "capture" / "demo"


def _replay(tmp_path: Path, lake: str) -> list[tuple[int, str]]:
    cfg = tmp_path / f"{lake}.toml"
    cfg.write_text(f"""
[connectors.kraken]
[connectors.binance]
[sinks.parquet]
root = "{tmp_path / lake}"
[journal]
enabled = true
root = "{tmp_path / 'journal'}"
[capture]
enabled = true
root = "{tmp_path / 'capture'}"
[logging]
level = "WARNING"
""")
    done = subprocess.run([sys.executable, "-m", "mdi.cli", "replay", str(BUNDLED), str(cfg), "--max"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = duckdb.connect().execute(
        f"SELECT seq, venue FROM read_parquet('{tmp_path / lake}/v1/*/**/*.parquet', hive_partitioning = true, union_by_name = true) ORDER BY seq"
    ).fetchall()
    return [(int(seq), str(kind)) for seq, kind in rows]


def test_two_replays_number_alike_beside_a_journal(tmp_path: Path) -> None:
    first, second = _replay(tmp_path, "lake-a"), _replay(tmp_path, "lake-b")
    assert first and first == second
    assert [seq for seq, _ in first] == list(range(1, len(first) + 1))
    assert not (tmp_path / "journal").exists() and not (tmp_path / "capture").exists()
