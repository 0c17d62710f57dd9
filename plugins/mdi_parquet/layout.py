"""Where things live in the lake and what they are called; no I/O here.

``<root>/v<schema_version>/<stream>/date=YYYY-MM-DD/hour=HH/part-<instance>-<first_seq>-<last_seq>.parquet``
(hive partitions by UTC receive time), plus ``<root>/v<N>/_watermark-<instance>.json`` (each
instance's own index). Keys are ``/``-separated strings relative to the root (see
:mod:`mdi_parquet.store`). Files written before instances existed are named
``part-<first_seq>-<last_seq>.parquet``; they are still read and count for every instance's
watermark.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

HOUR_NS = 3_600 * 1_000_000_000
TMP_SUFFIX = ".tmp"
INDEX_NAME = "_watermark.json"  # the index of a lake written before instances existed
META_PREFIX = "mdi."
_LEGACY_PART = re.compile(r"^part-(\d+)-(\d+)(?:-\d+)?\.parquet$")
_PART = re.compile(r"^part-(?P<instance>.+)-(?P<first>\d+)-(?P<last>\d+)(?:\.(?P<dup>\d+))?\.parquet$")
_VERSION_DIR = re.compile(r"^v(\d+)$")


def version_prefix(version: int) -> str:
    return f"v{version}"


def index_name(instance: str) -> str:
    """Each instance rewrites only its own index: a shared one would lose updates (SCALEOUT.md)."""
    return f"_watermark-{instance}.json"


def other_version_prefixes(names: list[str], version: int) -> list[str]:
    """Sibling ``v<N>`` directories: their sequence numbers still count for the watermark."""
    return sorted(n for n in names if (m := _VERSION_DIR.match(n)) and int(m[1]) != version)


def partition_dir(stream: str, hour: int) -> str:
    """Relative directory of ``stream`` for the UTC hour ``hour`` (hours since the epoch)."""
    moment = datetime.fromtimestamp(hour * 3_600, tz=timezone.utc)
    return f"{stream}/date={moment:%Y-%m-%d}/hour={moment:%H}"


def part_name(instance: str, first_seq: int, last_seq: int, duplicate: int = 0) -> str:
    """``part-<instance>-<first>-<last>.parquet``; ``duplicate`` > 0 only if that name is taken."""
    suffix = f".{duplicate}" if duplicate else ""
    return f"part-{instance}-{first_seq}-{last_seq}{suffix}.parquet"


def parse_part(name: str) -> tuple[str, int, int] | None:
    """(instance, first_seq, last_seq) of a data file name (instance ``""`` for a pre-instance
    file), None for anything else."""
    legacy = _LEGACY_PART.match(name)
    if legacy:
        return "", int(legacy[1]), int(legacy[2])
    m = _PART.match(name)
    return (m["instance"], int(m["first"]), int(m["last"])) if m else None


def is_partition_dir(rel_dir: str) -> bool:
    """``<stream>/date=*/hour=*`` relative to a version directory (not ``_``-prefixed)."""
    parts = rel_dir.split("/")
    return len(parts) == 3 and not parts[0].startswith("_") and parts[1].startswith("date=") and parts[2].startswith("hour=")


def stream_of(rel_path: str) -> str:
    """The stream of a path relative to the version directory."""
    return rel_path.split("/", 1)[0]

