"""Sequence numbers: unique per instance, and no holes between the lake's first and last.

The router numbers every event once, consecutively, across all streams, so in a healthy lake the
numbers of one instance form one unbroken run (a crash may lose the rows still in memory, which
shows as a hole too). A hole is attributed to the stream whose gap between two consecutive files
explains most of it: a deleted file leaves exactly its own numbers missing, and since the writer
names files ``part-<first>-<last>``, the missing run's ends name the deleted file.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from mdi_lake.catalog import DataFile
from mdi_parquet.layout import part_name

INSTANCE = "instance"
Found = tuple[str, str, str]  # (kind, message, path)
MAX_LISTED = 5


@dataclass
class SeqRuns:
    """Every file's ``seq`` values, per instance (one unnamed instance without the column)."""

    files: list[DataFile] = field(default_factory=list)
    seqs: dict[str, list[tuple[int, pa.Array]]] = field(default_factory=dict)

    def add(self, file: DataFile, table: pa.Table) -> None:
        index = len(self.files)
        self.files.append(file)
        seq = table.column("seq").combine_chunks().cast(pa.int64())
        if INSTANCE in table.column_names:
            instances = table.column(INSTANCE).combine_chunks().cast(pa.string())
            for name in pc.unique(instances).to_pylist():
                mask = pc.is_null(instances) if name is None else pc.equal(instances, name)
                self.seqs.setdefault(name or "", []).append((index, pc.filter(seq, mask)))
        else:
            self.seqs.setdefault("", []).append((index, seq))


def seq_problems(runs: SeqRuns) -> list[Found]:
    found: list[Found] = []
    for instance, parts in sorted(runs.seqs.items()):
        label = f" of instance {instance}" if instance else ""
        values = pa.concat_arrays([s for _, s in parts])
        owners = pa.concat_arrays([pa.array([i] * len(s), pa.int64()) for i, s in parts])
        order = pc.sort_indices(values)
        values, owners = pc.take(values, order), pc.take(owners, order)
        found += _duplicates(runs, values, owners, label)
        found += _holes(runs, parts, pc.unique(values), label, instance)
    return found


def _duplicates(runs: SeqRuns, values: pa.Array, owners: pa.Array, label: str) -> list[Found]:
    if len(values) < 2:
        return []
    same = pc.equal(values[1:], values[:-1])
    dup = pc.indices_nonzero(same).to_pylist()
    pairs: dict[tuple[int, int], list[int]] = {}
    for i in dup:
        key = (owners[i].as_py(), owners[i + 1].as_py())
        pairs.setdefault(key, []).append(values[i + 1].as_py())
    found: list[Found] = []
    for (a, b), seqs in sorted(pairs.items()):
        where = f"twice in {runs.files[a].rel}" if a == b else f"in both {runs.files[a].rel} and {runs.files[b].rel}"
        shown = ", ".join(map(str, seqs[:MAX_LISTED])) + (", ..." if len(seqs) > MAX_LISTED else "")
        found.append(("duplicate_seq", f"{len(seqs)} sequence number(s){label} appear {where}: {shown}", runs.files[b].rel))
    return found


def _holes(runs: SeqRuns, parts: list[tuple[int, pa.Array]], unique: pa.Array, label: str, instance: str) -> list[Found]:
    if len(unique) < 2:
        return []
    steps = pc.indices_nonzero(pc.greater(pc.subtract(unique[1:], unique[:-1]), 1)).to_pylist()
    if not steps:
        return []
    starts = [unique[i].as_py() + 1 for i in steps]  # inclusive missing ranges, sorted
    ends = [unique[i + 1].as_py() - 1 for i in steps]
    assigned = [False] * len(starts)
    found: list[Found] = []
    for stream, prev, nxt in _gaps_by_weight(runs, parts, starts, ends):
        chosen = [i for i in _inside(starts, ends, prev, nxt) if not assigned[i]]
        if not chosen:
            continue
        for i in chosen:
            assigned[i] = True
        lo, hi = starts[chosen[0]], ends[chosen[-1]]
        count = sum(ends[i] - starts[i] + 1 for i in chosen)
        name = file_name(instance, lo, hi)
        found.append(("missing_seq", _hole_message(stream, prev, nxt, name, lo, hi, count, label), f"{nxt.file.partition}/{name}"))
    for i in (i for i, done in enumerate(assigned) if not done):
        found.append(("missing_seq", f"sequence numbers {starts[i]}-{ends[i]}{label} are in no file (rows lost in a crash, or a file deleted)", ""))
    return found


@dataclass(frozen=True)
class _Edge:
    file: DataFile
    first: int
    last: int


def _inside(starts: list[int], ends: list[int], prev: _Edge | None, nxt: _Edge) -> range:
    """Indices of the missing ranges strictly between ``prev`` and ``nxt``."""
    low = prev.last if prev else -1
    return range(bisect_right(starts, low), bisect_left(ends, nxt.first))


def _gaps_by_weight(runs: SeqRuns, parts: list[tuple[int, pa.Array]], starts: list[int], ends: list[int]) -> list[tuple[str, _Edge | None, _Edge]]:
    """(stream, file before, file after) for every gap between a stream's consecutive files,
    the gaps holding the most missing numbers first (the tightest first among equals)."""
    by_stream: dict[str, list[_Edge]] = {}
    for index, seq in parts:
        if len(seq):
            file = runs.files[index]
            bounds = pc.min_max(seq).as_py()
            by_stream.setdefault(file.stream, []).append(_Edge(file, bounds["min"], bounds["max"]))
    scored: list[tuple[int, int, str, _Edge | None, _Edge]] = []
    for stream, edges in by_stream.items():
        edges.sort(key=lambda e: e.first)
        for prev, nxt in zip([None, *edges[:-1]], edges):
            weight = sum(ends[i] - starts[i] + 1 for i in _inside(starts, ends, prev, nxt))
            if weight:
                scored.append((-weight, nxt.first - (prev.last if prev else -1), stream, prev, nxt))
    scored.sort(key=lambda s: (s[0], s[1], s[2]))
    return [(stream, prev, nxt) for _, _, stream, prev, nxt in scored]


def file_name(instance: str, first: int, last: int, duplicate: int = 0) -> str:
    """The writer's name for a file of ``instance`` (``""``: from before instances existed)."""
    if instance:
        return part_name(instance, first, last, duplicate)
    return f"part-{first}-{last}{f'-{duplicate}' if duplicate else ''}.parquet"


def _hole_message(stream: str, prev: _Edge | None, nxt: _Edge, name: str, lo: int, hi: int, count: int, label: str) -> str:
    after = f"after {prev.file.rel} and " if prev else ""
    return (
        f"{count} sequence number(s){label} between {lo} and {hi} are in no file; stream {stream} has a gap "
        f"there ({after}before {nxt.file.rel}): consistent with a deleted file {stream}/.../{name}, "
        f"or rows lost in a crash"
    )
