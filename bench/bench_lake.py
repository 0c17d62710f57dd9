"""`mdi lake` throughput: rows/s of compaction (both protocols) and of verify, on a lake of past
hours written by the real Parquet writer in many small files (as a sink with a short
``flush_interval`` leaves it).

Run: ``python -m bench.bench_lake [--hours 4] [--files 60] [--rows 2000]``: ``--files`` small
files per stream and hour, ``--rows`` rows each (bbo and trade, so 2 x hours x files x rows rows).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from mdi.events import BBO, EventBase, Trade, stamp_seq
from mdi_lake.catalog import scan
from mdi_lake.compact import Settings, compact
from mdi_lake.lakefs import open_lake
from mdi_lake.verify import verify
from mdi_parquet.schema import Scales
from mdi_parquet.writer import LakeWriter

HOUR_NS = 3_600 * 10**9
DAY0 = 1_716_768_000_000_000_000  # 2024-05-27T00:00Z: every partition is closed


def make_lake(root: Path, hours: int, files: int, rows: int) -> int:
    writer = LakeWriter(root, Scales(), 3, time.time_ns)
    writer.recover()
    seq = 0
    step = HOUR_NS // (files * rows)
    for hour in range(hours):
        for f in range(files):
            bbo: list[EventBase] = []
            trades: list[EventBase] = []
            for i in range(rows):
                ts = DAY0 + hour * HOUR_NS + (f * rows + i) * step
                px = Decimal(67000) + Decimal(i % 1000) / 10
                bbo.append(BBO(venue="kraken", symbol="BTC-USD", ts_recv=ts, bid_px=px, bid_sz=Decimal("0.12345678"), ask_px=px + Decimal("0.1"), ask_sz=Decimal("1.5")))
                trades.append(Trade(venue="coinbase", symbol="BTC-USD", ts_recv=ts, trade_id=str(i), price=px, size=Decimal("0.001"), side="buy"))
            for event in (*bbo, *trades):
                seq += 1
                stamp_seq(event, seq)
            writer.commit(writer.build({BBO: bbo, Trade: trades}).files)
    return seq


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=int, default=4)
    parser.add_argument("--files", type=int, default=60)
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-lake-"))
    try:
        template = base / "template"
        total = make_lake(template, args.hours, args.files, args.rows)
        print(f"lake: {total:,} rows in {2 * args.hours * args.files} files")
        for mode in ("exchange", "replace"):
            root = base / mode
            shutil.copytree(template, root)
            stats = compact(open_lake(str(root)), Settings(mode=mode))
            print(f"compact {mode:<8}: {stats.rows_per_s:>12,.0f} rows/s  ({stats.files_in} files -> {stats.files_out}, {stats.seconds:.2f} s, {stats.bytes_in:,} -> {stats.bytes_out:,} bytes)")
        lake = open_lake(str(template))
        started = time.perf_counter()
        result = verify(lake, scan(lake), max_silence_s=60.0)
        seconds = time.perf_counter() - started
        print(f"verify          : {result.rows / seconds:>12,.0f} rows/s  ({len(result.problems)} problems, {seconds:.2f} s)")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
