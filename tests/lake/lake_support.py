"""Shared helpers for the lake tool tests: a lake recorded by a real `mdi demo`, synthetic lakes
of past hours written by the real Parquet writer, the `mdi` CLI in-process and in a child
process, and readers that return every row of a stream for exact before/after comparison."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from mdi.cli import build_app
from mdi.events import BBO, ConnectionStatus, EventBase, SequenceGap, Trade, stamp_seq
from mdi_parquet.schema import Scales
from mdi_parquet.writer import LakeWriter
from demo_support import demo_toml

HOUR_NS = 3_600 * 10**9
INSTANCE = "rec-a"  # the synthetic lakes' recorder instance
# 2024-05-27T00:00:00Z: a past day, so every partition is closed.
DAY0 = 1_716_768_000_000_000_000


def demo_config(tmp: Path, lake: Path) -> Path:
    cfg = tmp / "demo.toml"
    cfg.write_text(demo_toml(lake, parquet="flush_interval = 1.0"))
    return cfg


def record_demo(tmp: Path, seconds: float = 5.0) -> Path:
    """A lake recorded by a real `mdi demo` process (many small files: flush every second)."""
    lake = tmp / "demo-lake"
    cfg = demo_config(tmp, lake)
    result = subprocess.run(
        [sys.executable, "-m", "mdi.cli", "demo", str(cfg), "--duration", str(seconds), "--rate", "50"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    demo_lake = lake.with_name(lake.name + "-demo")  # mdi demo never writes the configured root
    assert demo_lake.is_dir() and not lake.exists(), result.stderr
    return demo_lake


def mdi(*args: str) -> tuple[int, str]:
    """Run `mdi ARGS` in-process through the real CLI (plugins loaded from entry points)."""
    result = CliRunner().invoke(build_app(), list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def mdi_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`mdi ARGS` in a child process, loading only the lake plugin (the others are not needed)."""
    full = {**os.environ, "MDI_LOAD_PLUGINS": "lake", **(env or {})}
    return subprocess.run([sys.executable, "-m", "mdi.cli", *args], capture_output=True, text=True, timeout=120, env=full)


def write_lake(root: Path, hours: int = 3, flushes_per_hour: int = 4, rows_per_flush: int = 50) -> int:
    """A lake of past hours written by the real writer: bbo and trade files, status rows.

    Returns the number of rows. ``seq`` runs 1..N without a hole, as the router stamps it.
    """
    writer = LakeWriter(root, Scales(), 3, time.time_ns, instance=INSTANCE)
    writer.recover()
    seq = 0

    def stamped(events: list[EventBase]) -> list[EventBase]:
        nonlocal seq
        for event in events:
            seq += 1
            stamp_seq(event, seq)
        return events

    for venue in ("kraken", "coinbase"):
        writer.commit(writer.build({ConnectionStatus: stamped([
            ConnectionStatus(venue=venue, symbol="*", ts_recv=DAY0 + 1, state="connected"),
            ConnectionStatus(venue=venue, symbol="*", ts_recv=DAY0 + 2, state="subscribed"),
        ])}).files)
    step = HOUR_NS // (flushes_per_hour * rows_per_flush)
    for hour in range(hours):
        for flush in range(flushes_per_hour):
            t0 = DAY0 + hour * HOUR_NS + flush * rows_per_flush * step + 10
            bbo: list[EventBase] = []
            trades: list[EventBase] = []
            for i in range(rows_per_flush):
                ts = t0 + i * step
                venue = ("kraken", "coinbase")[i % 2]
                px = Decimal("67000.1") + Decimal(i) / Decimal(8)
                bbo.append(BBO(venue=venue, symbol="BTC-USD", ts_recv=ts, bid_px=px, bid_sz=Decimal("0.12345678"), ask_px=px + Decimal("0.1"), ask_sz=Decimal("1")))
                trades.append(Trade(venue=venue, symbol="BTC-USD", ts_recv=ts + 1, trade_id=str(seq + i), price=px, size=Decimal("0.00000001"), side="buy"))
            writer.commit(writer.build({BBO: stamped(bbo), Trade: stamped(trades)}).files)
    return seq


def plant_gap(root: Path, seq_start: int) -> None:
    """Append one gap row (a venue's own numbering skipped) as its own file."""
    writer = LakeWriter(root, Scales(), 3, time.time_ns, instance=INSTANCE)
    writer.recover()
    event = SequenceGap(venue="coinbase", symbol="BTC-USD", ts_recv=DAY0 + 5 * HOUR_NS, channel="market_trades", expected=10, received=13)
    stamp_seq(event, seq_start)
    writer.commit(writer.build({SequenceGap: [event]}).files)


def data_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.parquet") if "_compact" not in p.parts)


def all_rows(root: Path) -> dict[str, list[dict[str, object]]]:
    """Every row of every stream, sorted by seq, timestamps as exact ns integers."""
    out: dict[str, list[dict[str, object]]] = {}
    for stream_dir in sorted((root / "v1").iterdir()):
        if not stream_dir.is_dir():
            continue
        files = sorted(stream_dir.rglob("*.parquet"))
        tables = [pq.read_table(f).replace_schema_metadata(None) for f in files]
        table = pa.concat_tables(tables)
        cols = [table.column(n).cast(pa.int64()) if pa.types.is_timestamp(table.schema.field(n).type) else table.column(n) for n in table.column_names]
        rows = pa.table(cols, names=table.column_names).to_pylist()
        out[stream_dir.name] = sorted(rows, key=lambda r: r["seq"])  # type: ignore[arg-type,return-value]
    return out


def copy_lake(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
