"""Coverage holes per venue and stream: ``gap`` rows, ``status`` outages, and silent spans.

- every ``gap`` row is a hole (the venue's own numbering skipped);
- an outage is a venue leaving the live state (``subscribed``) after it had reached it, until
  it is ``subscribed`` again (or until the end of the lake, when that is more than the allowed
  silence later);
- a silent span is more than ``max_silence_s`` between two consecutive rows of one stream and
  venue (``status`` and ``gap`` are event-driven and never "silent").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from mdi_lake.catalog import DataFile
from mdi_lake.stats import iso

LIVE = "subscribed"
EVENT_STREAMS = frozenset({"status", "gap"})
Found = tuple[str, str, str]


@dataclass
class Coverage:
    status: list[pa.Table] = field(default_factory=list)
    gaps: list[tuple[DataFile, pa.Table]] = field(default_factory=list)
    times: dict[tuple[str, str], list[pa.Array]] = field(default_factory=dict)
    last_ns: int = 0

    def add(self, file: DataFile, table: pa.Table) -> None:
        ts = table.column("ts_recv").combine_chunks().cast(pa.int64())
        if len(ts):
            self.last_ns = max(self.last_ns, pc.max(ts).as_py())
        if file.stream == "status":
            self.status.append(table.select(["seq", "ts_recv", "venue", "state", "detail"]))
        elif file.stream == "gap":
            self.gaps.append((file, table))
        else:
            venues = table.column("venue").combine_chunks()
            for venue in pc.unique(venues).to_pylist():
                mask = pc.is_null(venues) if venue is None else pc.equal(venues, venue)
                self.times.setdefault((file.stream, venue or ""), []).append(pc.filter(ts, mask))


def coverage_problems(coverage: Coverage, max_silence_s: float) -> list[Found]:
    limit_ns = int(max_silence_s * 1e9)
    return [*_gap_rows(coverage), *_outages(coverage, limit_ns), *_silences(coverage, limit_ns)]


def _gap_rows(coverage: Coverage) -> list[Found]:
    found: list[Found] = []
    for file, table in coverage.gaps:
        for row in table.select(["ts_recv", "venue", "symbol", "channel", "expected", "received"]).cast(
            pa.schema([("ts_recv", pa.int64()), ("venue", pa.string()), ("symbol", pa.string()), ("channel", pa.string()), ("expected", pa.int64()), ("received", pa.int64())])
        ).to_pylist():
            found.append(("venue_gap", f"{row['venue']} {row['symbol']} channel {row['channel']} skipped at {iso(row['ts_recv'])}: expected {row['expected']}, received {row['received']}", file.rel))
    return found


def _outages(coverage: Coverage, limit_ns: int) -> list[Found]:
    if not coverage.status:
        return []
    table = pa.concat_tables(coverage.status).sort_by("seq")
    rows = table.select(["ts_recv", "venue", "state", "detail"]).cast(
        pa.schema([("ts_recv", pa.int64()), ("venue", pa.string()), ("state", pa.string()), ("detail", pa.string())])
    ).to_pylist()
    found: list[Found] = []
    live: dict[str, bool] = {}
    down: dict[str, tuple[int, str]] = {}
    for row in rows:
        venue, state = row["venue"], row["state"]
        if state == LIVE:
            if venue in down:
                start, why = down.pop(venue)
                found.append(("outage", f"{venue} was not live from {iso(start)} to {iso(row['ts_recv'])} ({(row['ts_recv'] - start) / 1e9:.1f} s, {why})", ""))
            live[venue] = True
        elif live.get(venue) and venue not in down:
            down[venue] = (row["ts_recv"], f"{state}: {row['detail']}" if row["detail"] else state)
    for venue, (start, why) in sorted(down.items()):
        if coverage.last_ns - start > limit_ns:
            found.append(("outage", f"{venue} was not live from {iso(start)} to the end of the lake at {iso(coverage.last_ns)} ({why})", ""))
    return found


def _silences(coverage: Coverage, limit_ns: int) -> list[Found]:
    found: list[Found] = []
    for (stream, venue), parts in sorted(coverage.times.items()):
        ts = pc.sort_indices(pa.concat_arrays(parts))
        values = pc.take(pa.concat_arrays(parts), ts)
        if len(values) < 2:
            continue
        steps = pc.subtract(values[1:], values[:-1])
        for i in pc.indices_nonzero(pc.greater(steps, limit_ns)).to_pylist():
            a, b = values[i].as_py(), values[i + 1].as_py()
            found.append(("silence", f"stream {stream} from {venue} is silent for {(b - a) / 1e9:.1f} s, from {iso(a)} to {iso(b)}", ""))
    return found
