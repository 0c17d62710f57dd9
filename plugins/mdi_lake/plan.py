"""Which files of which partitions compaction merges, and how (no writing here).

A partition ``v<N>/<stream>/date=D/hour=H`` is *closed* when its hour ended at least
``older_than`` ago: the sink writes a row into the hour it was received, at most one flush
interval late (longer only while storage fails), so a closed partition gets no new files. Its
files are taken in ``seq`` order and grouped greedily up to ``target_rows`` rows; a group of one
file stays as it is, so a compacted lake plans nothing (compaction is idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow.compute as pc

from mdi_lake.catalog import Catalog, DataFile
from mdi_lake.footer import READ_ERRORS, Footer, read_footer, read_table
from mdi_lake.lakefs import Lake

HOUR_S = 3600
INSTANCE = "instance"  # scale-out: one recorder's rows per value


@dataclass
class Group:
    files: list[DataFile]
    rows: int
    first_seq: int = 0
    last_seq: int = 0
    instance: str = ""  # the one instance of its rows ("": a lake from before instances)

    @property
    def merges(self) -> bool:
        return len(self.files) > 1


@dataclass
class PartitionPlan:
    partition: str
    files: list[DataFile]
    groups: list[Group] = field(default_factory=list)
    skipped: str = ""  # why nothing is done (an unreadable file, mixed schemas)

    @property
    def merges(self) -> bool:
        return not self.skipped and any(g.merges for g in self.groups)


def closed(file: DataFile, now_s: float, older_than_s: float) -> bool:
    return file.hour_start.timestamp() + HOUR_S + older_than_s <= now_s


def plan(lake: Lake, catalog: Catalog, *, now_s: float, older_than_s: float, target_rows: int) -> list[PartitionPlan]:
    plans: list[PartitionPlan] = []
    for partition, files in sorted(catalog.partitions().items()):
        if len(files) < 2 or not closed(files[0], now_s, older_than_s):
            continue
        plans.append(_plan_partition(lake, partition, files, target_rows))
    return [p for p in plans if p.merges or p.skipped]


def _plan_partition(lake: Lake, partition: str, files: list[DataFile], target_rows: int) -> PartitionPlan:
    footers: dict[str, Footer] = {}
    for file in files:
        try:
            footers[file.rel] = read_footer(lake, file)
        except READ_ERRORS as exc:
            return PartitionPlan(partition, files, skipped=f"{file.rel} is unreadable ({exc}); see `mdi lake verify`")
    for file in files:
        if footers[file.rel].int_meta("first_seq") is None or footers[file.rel].int_meta("last_seq") is None:
            return PartitionPlan(partition, files, skipped=f"{file.rel} has no mdi.first_seq/mdi.last_seq metadata; see `mdi lake verify`")
    schemas = {footers[f.rel].schema.remove_metadata().to_string() for f in files}
    if len(schemas) > 1:
        return PartitionPlan(partition, files, skipped="its files have different column types; see `mdi lake verify`")
    ordered = sorted(files, key=lambda f: (footers[f.rel].int_meta("first_seq") or 0, f.name))
    result = PartitionPlan(partition, ordered)
    by_instance: dict[tuple[str, ...], list[DataFile]] = {}
    for file in ordered:
        by_instance.setdefault(_instances(lake, file, footers[file.rel]), []).append(file)
    for key in sorted(by_instance):
        groups = _groups(by_instance[key], footers, target_rows)
        for group in groups:
            group.instance = key[0] if len(key) == 1 else ""
        result.groups += groups
    return result


def _instances(lake: Lake, file: DataFile, footer: Footer) -> tuple[str, ...]:
    """The recorder instances whose rows a file holds (scale-out's ``instance`` column), so
    that merged files never mix instances; ``()`` for a lake of one unnamed instance."""
    if INSTANCE not in footer.schema.names:
        return ()
    column = read_table(lake, file, [INSTANCE]).column(INSTANCE)
    return tuple(sorted(str(v) for v in pc.unique(column).to_pylist()))


def _groups(files: list[DataFile], footers: dict[str, Footer], target_rows: int) -> list[Group]:
    groups: list[Group] = []
    current = Group([], 0)
    for file in files:
        rows = footers[file.rel].rows
        if current.files and current.rows + rows > target_rows:
            groups.append(current)
            current = Group([], 0)
        first, last = footers[file.rel].int_meta("first_seq") or 0, footers[file.rel].int_meta("last_seq") or 0
        current.first_seq = min(current.first_seq, first) if current.files else first
        current.last_seq = max(current.last_seq, last)
        current.files.append(file)
        current.rows += rows
    groups.append(current)
    return groups
