"""Printing a query result: an aligned table, CSV, JSON lines, or a Parquet file.

Values keep their exact form: decimals print with their digits (never through a float), and
timestamps as ISO 8601 with nanoseconds.
"""

from __future__ import annotations

import io
import sys
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMATS = ("table", "csv", "json", "parquet")


def _plain(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as Python values; timestamps as ns integers first, so none is cut to microseconds."""
    cols = []
    for field in table.schema:
        column = table.column(field.name)
        cols.append(column.cast(pa.int64()) if pa.types.is_timestamp(field.type) else column)
    rows = pa.table(cols, names=table.column_names).to_pylist()
    stamps = [f.name for f in table.schema if pa.types.is_timestamp(f.type)]
    for row in rows:
        for name in stamps:
            if row[name] is not None:
                row[name] = _iso_ns(row[name])
    return rows


def _iso_ns(ns: int) -> str:
    seconds, frac = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (dict, list)):
        return msgspec.json.encode(value).decode()
    return str(value)


def render_table(table: pa.Table) -> str:
    rows = _plain(table)
    head = table.column_names
    cells = [head] + [[_cell(r[c]) for c in head] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells]
    return "\n".join(lines + [f"({len(rows)} rows)"]) + "\n"


def write(table: pa.Table, fmt: str, out: str | None) -> None:
    if fmt == "parquet":
        if not out:
            raise ValueError("--format parquet needs --out FILE")
        pq.write_table(table, out, compression="zstd")
        return
    if fmt == "csv":
        buffer = io.BytesIO()
        flat = pa.table([_flat(table.column(n)) for n in table.column_names], names=table.column_names)
        pacsv.write_csv(flat, buffer)
        data = buffer.getvalue()
    elif fmt == "json":
        data = b"".join(msgspec.json.encode(r) + b"\n" for r in _plain(table))
    else:
        data = render_table(table).encode()
    if out:
        with open(out, "wb") as handle:
            handle.write(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def _flat(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """CSV holds flat values only: nested columns become JSON text."""
    if pa.types.is_nested(column.type):
        return pa.array([None if v is None else msgspec.json.encode(v).decode() for v in column.to_pylist()], pa.string())
    return column
