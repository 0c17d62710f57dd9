"""``mdi lake prune``: retention. Whole hour partitions that ended before a moment are deleted.

Only partitions whose hour ended before both ``before`` and now go, so the hour a recorder is
writing is never touched. Files are deleted one by one (a reader listing meanwhile sees a
partition shrink, never a row twice); empty directories are removed on local disk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone

from mdi_lake.catalog import Catalog
from mdi_lake.lakefs import Lake
from mdi_lake.plan import HOUR_S


@dataclass
class PruneResult:
    partitions: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0


def parse_moment(text: str) -> datetime:
    """``YYYY-MM-DD`` (midnight UTC) or an ISO 8601 time (UTC unless it says otherwise)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def prune(lake: Lake, catalog: Catalog, before: datetime, *, now_s: float, dry_run: bool) -> PruneResult:
    limit = min(before.timestamp(), now_s)
    result = PruneResult()
    for partition, files in sorted(catalog.partitions().items()):
        if files[0].hour_start.timestamp() + HOUR_S > limit:
            continue
        result.partitions.append(partition)
        result.files += len(files)
        result.bytes += sum(f.size for f in files)
        if not dry_run:
            for file in files:
                lake.delete(file.rel)
            _remove_empty_dirs(lake, partition)
    return result


def _remove_empty_dirs(lake: Lake, partition: str) -> None:
    """``hour=`` then ``date=`` directories left empty (local disk; object stores have none)."""
    if not lake.local:
        return
    path = lake.path(partition)
    for _ in range(2):
        try:
            os.rmdir(path)
        except OSError:
            return
        path = os.path.dirname(path)
