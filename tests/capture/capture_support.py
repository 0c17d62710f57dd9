"""Reading lakes back for the capture/replay tests: every stream as one table sorted by seq."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

VENUE_STREAMS = ("trade", "bbo", "option_ticker", "mark_price", "vol_index", "gap", "status")


def read_lake(root: Path) -> dict[str, pa.Table]:
    """stream -> all its rows (every file), sorted by seq; timestamps as int64 ns."""
    out: dict[str, pa.Table] = {}
    base = root / "v1"
    for directory in sorted(p for p in base.iterdir() if p.is_dir()):
        files = sorted(directory.rglob("*.parquet"))
        if not files:
            continue
        table = pa.concat_tables([pq.read_table(f) for f in files])
        cols = [
            table.column(i).cast(pa.int64()) if pa.types.is_timestamp(table.schema.field(i).type) else table.column(i)
            for i in range(table.num_columns)
        ]
        out[directory.name] = pa.table(cols, names=table.column_names).sort_by("seq")
    return out


def rows_without_seq(table: pa.Table) -> Counter[str]:
    """The rows as a multiset (order and seq aside): what "value for value" compares."""
    return Counter(repr(sorted(row.items())) for row in table.drop_columns(["seq"]).to_pylist())
