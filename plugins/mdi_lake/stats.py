"""``mdi lake stats``: per stream and venue, files, rows, bytes and first and last receive time.

Files, bytes and the time range per stream come from listings and footers; rows per venue need
the ``venue`` column (a dictionary column, cheap to read).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import pyarrow.compute as pc

from mdi_lake.catalog import Catalog, DataFile
from mdi_lake.footer import READ_ERRORS, read_table
from mdi_lake.lakefs import Lake


@dataclass
class Row:
    stream: str
    venue: str
    files: int = 0
    rows: int = 0
    bytes: int = 0
    first_ts_recv: str | None = None
    last_ts_recv: str | None = None


def iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def lake_stats(lake: Lake, catalog: Catalog) -> tuple[list[Row], list[str]]:
    """Rows of the stats table and the files that could not be read (``verify`` says why)."""
    rows: dict[tuple[str, str], Row] = {}
    spans: dict[tuple[str, str], tuple[int, int]] = {}
    unreadable: list[str] = []
    for file in catalog.files:
        try:
            per_venue = _file_venues(lake, file)
        except READ_ERRORS:
            unreadable.append(file.rel)
            continue
        for venue, (count, lo, hi) in per_venue.items():
            row = rows.setdefault((file.stream, venue), Row(file.stream, venue))
            row.files += 1
            row.rows += count
            row.bytes += file.size * count // max(1, sum(c for c, _, _ in per_venue.values()))
            old = spans.get((file.stream, venue), (lo, hi))
            spans[(file.stream, venue)] = (min(old[0], lo), max(old[1], hi))
    for key, (lo, hi) in spans.items():
        rows[key].first_ts_recv, rows[key].last_ts_recv = iso(lo), iso(hi)
    return [rows[k] for k in sorted(rows)], unreadable


def _file_venues(lake: Lake, file: DataFile) -> dict[str, tuple[int, int, int]]:
    """venue -> (rows, first ts_recv ns, last ts_recv ns) of one file."""
    table = read_table(lake, file, ["venue", "ts_recv"])
    out: dict[str, tuple[int, int, int]] = {}
    ts = table.column("ts_recv").cast("int64")
    venues = table.column("venue")
    for venue in pc.unique(venues).to_pylist():
        mask = pc.equal(venues, venue) if venue is not None else pc.is_null(venues)
        chosen = pc.filter(ts, mask)
        bounds = pc.min_max(chosen).as_py()
        out[venue or ""] = (len(chosen), bounds["min"], bounds["max"])
    return out


def as_dicts(rows: list[Row]) -> list[dict[str, object]]:
    return [asdict(r) for r in rows]


def render(rows: list[Row]) -> list[str]:
    """A plain text table; bytes of a file shared by venues are split by their row counts."""
    head = ("STREAM", "VENUE", "FILES", "ROWS", "BYTES", "FIRST", "LAST")
    table = [head] + [(r.stream, r.venue, str(r.files), str(r.rows), str(r.bytes), r.first_ts_recv or "", r.last_ts_recv or "") for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(head))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in table]
