"""``mdi lake verify``: every problem in a lake, each named, so exit 1 means "look at these".

Checks, in order: leftovers (``.tmp``, interrupted compactions, foreign files); each data file
(readable as a whole, ``mdi.schema_version`` and ``mdi.stream`` matching where it lies, the name
and footer agreeing with the rows, rows in ``seq`` order and inside their hour partition, one
column layout per stream); the index's head files exist; sequence numbers unique and without
holes per instance (a hole the size of a file is reported as that file, since the writer names
files after their first and last ``seq``); coverage (see :mod:`mdi_lake.coverage`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from mdi_lake.catalog import Catalog, DataFile
from mdi_lake.coverage import Coverage, coverage_problems
from mdi_lake.footer import READ_ERRORS, read_footer, read_table
from mdi_lake.lakefs import Lake
from mdi_lake.seqcheck import SeqRuns, seq_problems
from mdi_parquet.layout import HOUR_NS

INSTANCE = "instance"  # per-instance sequence numbers when the column exists (scale-out)
ROW_COLUMNS = ("seq", "ts_recv", "venue")


class Problem(msgspec.Struct, frozen=True):
    kind: str
    message: str
    path: str = ""


@dataclass
class Verification:
    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    rows: int = 0

    def add(self, kind: str, message: str, path: str = "") -> None:
        self.problems.append(Problem(kind, message, path))


def verify(lake: Lake, catalog: Catalog, *, max_silence_s: float) -> Verification:
    result = Verification(files=len(catalog.files))
    _leftovers(catalog, result)
    runs = SeqRuns()
    coverage = Coverage()
    layouts: dict[tuple[int, str], tuple[pa.Schema, str]] = {}
    for file in catalog.files:
        table = _check_file(lake, file, result, layouts)
        if table is None:
            continue
        result.rows += table.num_rows
        runs.add(file, table)
        coverage.add(file, table)
    _check_heads(lake, catalog, result)
    for kind, message, path in seq_problems(runs):
        result.add(kind, message, path)
    for kind, message, path in coverage_problems(coverage, max_silence_s):
        result.add(kind, message, path)
    return result


def _leftovers(catalog: Catalog, result: Verification) -> None:
    for rel in catalog.tmp:
        result.add("stray_tmp", f"stray temporary file {rel} (a crash leftover or a write in progress; `mdi run` removes those it finds at start)", rel)
    intents = sorted({rel for rel in catalog.staging})
    if intents:
        result.add("compaction_interrupted", f"{len(intents)} file(s) under _compact/ from an interrupted compaction: run `mdi lake compact` to finish or undo it", intents[0])
    for rel in catalog.foreign:
        result.add("foreign_file", f"{rel} is not part of the lake layout (v<N>/<stream>/date=YYYY-MM-DD/hour=HH/part-*.parquet)", rel)


def _check_file(lake: Lake, file: DataFile, result: Verification, layouts: dict[tuple[int, str], tuple[pa.Schema, str]]) -> pa.Table | None:
    """The file's key columns, or None (with the problem recorded) when it cannot be read."""
    try:
        footer = read_footer(lake, file)
        full = read_table(lake, file)
    except READ_ERRORS as exc:
        result.add("unreadable", f"{file.rel} cannot be read: {exc}", file.rel)
        return None
    declared = footer.int_meta("schema_version")
    if declared != file.version:
        result.add("schema_version", f"{file.rel} declares mdi.schema_version={footer.meta.get('schema_version')!r} but lies under v{file.version}/", file.rel)
    if footer.meta.get("stream") != file.stream:
        result.add("stream", f"{file.rel} declares mdi.stream={footer.meta.get('stream')!r} but lies under {file.stream}/", file.rel)
    missing = [c for c in ROW_COLUMNS if c not in full.column_names]
    if missing:
        result.add("schema", f"{file.rel} lacks the column(s) {', '.join(missing)}", file.rel)
        return None
    _check_layout(file, full.schema, result, layouts)
    keep = [c for c in (*ROW_COLUMNS, INSTANCE) if c in full.column_names]
    table = full.select(keep) if file.stream not in ("status", "gap") else full
    _check_rows(file, footer.meta, table, result)
    return table


def _check_layout(file: DataFile, schema: pa.Schema, result: Verification, layouts: dict[tuple[int, str], tuple[pa.Schema, str]]) -> None:
    """Every file of a stream has the same columns and types (DuckDB would silently cast)."""
    bare = schema.remove_metadata()
    first = layouts.setdefault((file.version, file.stream), (bare, file.rel))
    if not first[0].equals(bare):
        result.add("schema", f"{file.rel} has other column types than {first[1]} (same stream and version): a reader of the stream would cast one to the other", file.rel)


def _check_rows(file: DataFile, meta: dict[str, str], table: pa.Table, result: Verification) -> None:
    if table.num_rows == 0:
        result.add("empty", f"{file.rel} holds no rows", file.rel)
        return
    seq = table.column("seq")
    bounds = pc.min_max(seq).as_py()
    named = file.named_seqs
    if named is not None and named != (bounds["min"], bounds["max"]):
        result.add("name", f"{file.rel} is named for seq {named[0]}-{named[1]} but holds {bounds['min']}-{bounds['max']}", file.rel)
    if (meta.get("first_seq"), meta.get("last_seq"), meta.get("rows")) != (str(bounds["min"]), str(bounds["max"]), str(table.num_rows)):
        result.add("footer", f"{file.rel} footer says seq {meta.get('first_seq')}-{meta.get('last_seq')}, {meta.get('rows')} rows; the rows say {bounds['min']}-{bounds['max']}, {table.num_rows}", file.rel)
    one_instance = INSTANCE not in table.column_names or len(pc.unique(table.column(INSTANCE).combine_chunks().cast(pa.string()))) == 1
    if table.num_rows > 1 and one_instance and not pc.all(pc.greater(seq[1:], seq[:-1])).as_py():
        result.add("order", f"{file.rel}: rows are not in increasing seq order", file.rel)
    ts = pc.min_max(table.column("ts_recv").cast("int64")).as_py()
    start = int(file.hour_start.timestamp()) * 1_000_000_000
    if ts["min"] < start or ts["max"] >= start + HOUR_NS:
        result.add("partition", f"{file.rel}: receive times fall outside date={file.date}/hour={file.hour:02d}", file.rel)


def _check_heads(lake: Lake, catalog: Catalog, result: Verification) -> None:
    present = {f.rel for f in catalog.files}
    for version, rel in sorted(catalog.indexes):
        try:
            index = msgspec.json.decode(lake.read_bytes(rel))
            heads = index.get("heads", {})
        except (*READ_ERRORS, msgspec.DecodeError, AttributeError) as exc:
            result.add("index", f"{rel} is unreadable ({exc}); the next `mdi run` rebuilds it by a full scan", rel)
            continue
        for stream, head in sorted(heads.items()):
            target = f"v{version}/{head.get('file', '')}"
            if target not in present:
                result.add("missing_file", f"{target} is missing: {rel} names it as the newest file of stream {stream} (deleted by hand?)", target)
