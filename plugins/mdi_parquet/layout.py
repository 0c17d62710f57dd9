"""Where things live in the lake and what they are called; no I/O here.

``<root>/v<schema_version>/<stream>/date=YYYY-MM-DD/hour=HH/part-<first_seq>-<last_seq>.parquet``
(hive partitions by UTC receive time), plus ``<root>/v<N>/_watermark.json`` (the index).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

HOUR_NS = 3_600 * 1_000_000_000
TMP_SUFFIX = ".tmp"
INDEX_NAME = "_watermark.json"
META_PREFIX = "mdi."
_PART = re.compile(r"^part-(\d+)-(\d+)(?:-\d+)?\.parquet$")
_VERSION_DIR = re.compile(r"^v(\d+)$")


def version_dir(root: Path, version: int) -> Path:
    return root / f"v{version}"


def other_versions(root: Path, version: int) -> list[Path]:
    """Sibling ``v<N>`` directories: their sequence numbers still count for the watermark."""
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and (m := _VERSION_DIR.match(p.name)) and int(m[1]) != version]
    return sorted(found)


def partition_dir(stream: str, hour: int) -> str:
    """Relative directory of ``stream`` for the UTC hour ``hour`` (hours since the epoch)."""
    moment = datetime.fromtimestamp(hour * 3_600, tz=timezone.utc)
    return f"{stream}/date={moment:%Y-%m-%d}/hour={moment:%H}"


def part_name(first_seq: int, last_seq: int, duplicate: int = 0) -> str:
    """``part-<first>-<last>.parquet``; ``duplicate`` > 0 only if that name is somehow taken."""
    suffix = f"-{duplicate}" if duplicate else ""
    return f"part-{first_seq}-{last_seq}{suffix}.parquet"


def parse_part(name: str) -> tuple[int, int] | None:
    """(first_seq, last_seq) from a data file name, None for anything else."""
    m = _PART.match(name)
    return (int(m[1]), int(m[2])) if m else None


def stream_of(rel_path: str) -> str:
    """The stream of a path relative to the version directory."""
    return rel_path.split("/", 1)[0]


def partition_dirs(vdir: Path) -> list[Path]:
    """Every ``<stream>/date=*/hour=*`` directory (the full scan; used when there is no index)."""
    return sorted(p for p in vdir.glob("*/date=*/hour=*") if p.is_dir() and not p.parts[-3].startswith("_"))
