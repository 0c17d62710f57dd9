"""What is in a lake, from one recursive listing (no file is opened here).

``v<N>/<stream>/date=YYYY-MM-DD/hour=HH/<name>.parquet`` are data files; ``.tmp`` files anywhere
in a partition are crash leftovers (or writes in progress); ``_compact/`` holds compaction's
staging directories and intent files (see :mod:`mdi_lake.compact`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import pyarrow.fs as pafs

from mdi_lake.lakefs import Lake
from mdi_parquet.layout import TMP_SUFFIX, parse_part

STAGING = "_compact"
_INDEX = re.compile(r"^v(\d+)/_watermark(?:-[^/]+)?\.json$")  # legacy shared one, or one per instance
_DATA = re.compile(r"^v(\d+)/([^/_][^/]*)/date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/([^/]+)$")


@dataclass(frozen=True)
class DataFile:
    rel: str  # relative to the lake root
    version: int
    stream: str
    date: str
    hour: int
    name: str
    size: int
    mtime_ns: int

    @property
    def partition(self) -> str:
        return self.rel.rsplit("/", 1)[0]

    @property
    def named_seqs(self) -> tuple[int, int] | None:
        parsed = parse_part(self.name)
        return (parsed[1], parsed[2]) if parsed else None

    @property
    def named_instance(self) -> str | None:
        """The instance in the name (``""`` for a file from before instances existed)."""
        parsed = parse_part(self.name)
        return parsed[0] if parsed else None

    @property
    def hour_start(self) -> datetime:
        day = date.fromisoformat(self.date)
        return datetime(day.year, day.month, day.day, self.hour, tzinfo=timezone.utc)


@dataclass
class Catalog:
    files: list[DataFile] = field(default_factory=list)
    tmp: list[str] = field(default_factory=list)
    indexes: list[tuple[int, str]] = field(default_factory=list)  # (version, rel path of a _watermark[-<instance>].json)
    staging: list[str] = field(default_factory=list)  # anything under _compact/
    foreign: list[str] = field(default_factory=list)  # files the lake layout has no place for

    def streams(self) -> list[str]:
        return sorted({f.stream for f in self.files})

    def partitions(self) -> dict[str, list[DataFile]]:
        groups: dict[str, list[DataFile]] = {}
        for f in self.files:
            groups.setdefault(f.partition, []).append(f)
        return groups


def scan(lake: Lake) -> Catalog:
    """List every file under the root once and sort it into the catalog."""
    catalog = Catalog()
    infos = lake.fs.get_file_info(pafs.FileSelector(lake.root, recursive=True, allow_not_found=True))
    for info in sorted(infos, key=lambda i: i.path):
        if info.type != pafs.FileType.File:
            continue
        _classify(catalog, lake.rel(info.path), info)
    return catalog


def _classify(catalog: Catalog, rel: str, info: pafs.FileInfo) -> None:
    if rel == f"{STAGING}/.lock" or rel.startswith(f"{STAGING}/.trash/"):
        return  # the readers' lock; swapped-out directories kept until the next compaction
    if rel.startswith(STAGING + "/"):
        catalog.staging.append(rel)
        return
    if rel.endswith(TMP_SUFFIX):
        catalog.tmp.append(rel)
        return
    index = _INDEX.match(rel)
    if index:
        catalog.indexes.append((int(index[1]), rel))
        return
    m = _DATA.match(rel)
    if m and m[5].endswith(".parquet"):
        mtime = info.mtime_ns if info.mtime_ns is not None else 0
        catalog.files.append(DataFile(rel, int(m[1]), m[2], m[3], int(m[4]), m[5], info.size or 0, mtime))
        return
    catalog.foreign.append(rel)
