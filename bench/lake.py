"""Counting what reached the Parquet lake, for the benchmark's "nothing lost" check.

Reads only what is needed: row counts from the footers, the ``seq`` column of every file (every
sequence number the router stamped must be there exactly once) and the ``venue`` column of the
streams the blasted venue feeds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mdi_parquet.layout import TMP_SUFFIX
from mdi_parquet.schema import SCHEMA_VERSION


@dataclass
class LakeCount:
    files: int = 0
    rows: int = 0
    bytes: int = 0
    rows_by_stream: dict[str, int] = field(default_factory=dict)
    distinct_seq: int = 0
    min_seq: int | None = None
    max_seq: int | None = None
    venue_rows: int = 0  # rows of ``venue`` in ``venue_streams``
    tmp_files: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_lake(root: Path, venue: str = "kraken", venue_streams: tuple[str, ...] = ("bbo", "trade")) -> LakeCount:
    vdir = root / f"v{SCHEMA_VERSION}"
    out = LakeCount()
    if not vdir.is_dir():
        return out
    seqs: list[pa.ChunkedArray] = []
    for path in sorted(vdir.rglob("*.parquet")):
        stream = path.relative_to(vdir).parts[0]
        table = pq.read_table(path, columns=["seq", "venue"] if stream in venue_streams else ["seq"])
        out.files += 1
        out.bytes += path.stat().st_size
        out.rows += table.num_rows
        out.rows_by_stream[stream] = out.rows_by_stream.get(stream, 0) + table.num_rows
        seqs.append(table.column("seq"))
        if stream in venue_streams:
            out.venue_rows += pc.sum(pc.equal(table.column("venue"), venue)).as_py() or 0
    out.tmp_files = sum(1 for _ in vdir.rglob(f"*{TMP_SUFFIX}"))
    if seqs:
        everything = pa.chunked_array([chunk for column in seqs for chunk in column.chunks], pa.int64())
        out.distinct_seq = pc.count_distinct(everything).as_py()
        bounds = pc.min_max(everything).as_py()
        out.min_seq, out.max_seq = bounds["min"], bounds["max"]
    return out
