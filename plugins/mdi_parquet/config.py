"""``[sinks.parquet]``: where the lake lives, when files are cut, and how decimals are stored."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Annotated

import msgspec

from mdi_parquet.schema import Scales, builtin_schemas, decimal_columns

Scale = Annotated[int, msgspec.Meta(ge=0, le=38)]


class ParquetSinkConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Every field has a default, so ``[sinks.parquet]`` alone records to ``./data``.

    Durations are seconds. A stream's buffer is written when it holds ``buffer_rows`` rows or its
    oldest row has waited ``flush_interval``; the interval bounds what a crash can lose, the row
    count bounds memory and file size. ``decimal_scale`` is the number of fractional digits of
    every DECIMAL column; ``column_scales`` overrides it per ``"<stream>.<column>"`` (nested
    columns by dotted path, e.g. ``"option_ticker.greeks.gamma"``).
    """

    root: str = "data"
    # Object storage (root = "s3://bucket/prefix"); unset keys come from AWS_* (docs/scaleout.md).
    endpoint_url: str = ""
    region: str = ""
    access_key_id: str = ""
    secret_access_key: str = ""
    buffer_rows: Annotated[int, msgspec.Meta(ge=1)] = 100_000
    flush_interval: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    compression_level: Annotated[int, msgspec.Meta(ge=1, le=22)] = 3
    decimal_scale: Scale = 12
    column_scales: dict[str, Scale] = {}
    backoff_initial: Annotated[float, msgspec.Meta(gt=0)] = 0.5
    backoff_max: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    warn_interval: Annotated[float, msgspec.Meta(ge=0)] = 60.0

    def __post_init__(self) -> None:
        if not self.root:
            raise ValueError("`root`: must be a directory path or s3://bucket/prefix, got an empty string")
        if self.root.startswith("s3://"):
            check_s3_root(self.root)
        elif "://" in self.root:
            raise ValueError(f"`root`: {self.root!r}: only s3:// URLs and directory paths are supported")
        else:
            problem = lake_root_problem(self.root)
            if problem:
                raise ValueError(f"`root`: cannot write the lake at {self.root!r}: {problem}; choose a writable directory")
        if self.backoff_max < self.backoff_initial:
            raise ValueError("backoff_max must be >= backoff_initial")
        unknown = sorted(set(self.column_scales) - set(known_decimal_columns()))
        if unknown:
            raise ValueError(
                f"column_scales: {', '.join(unknown)} is not a decimal column; "
                f"decimal columns are named like 'trade.price' or 'option_ticker.greeks.delta' "
                f"(see docs/schema.md)"
            )

    def store_options(self) -> dict[str, str]:
        """The object-storage keys that are set (the rest fall back to AWS_* variables)."""
        keys = ("endpoint_url", "region", "access_key_id", "secret_access_key")
        return {k: getattr(self, k) for k in keys if getattr(self, k)}

    def scales(self) -> Scales:
        return Scales(default=self.decimal_scale, overrides=dict(self.column_scales))


def check_s3_root(root: str) -> None:
    """``s3://bucket[/prefix]`` with a plausible bucket name, else a message with the fix."""
    bucket = root[len("s3://"):].split("/", 1)[0]
    if not (3 <= len(bucket) <= 63) or not bucket.replace("-", "").replace(".", "").isalnum() or bucket != bucket.lower():
        raise ValueError(f"`root`: {root!r}: expected s3://<bucket>/<prefix> with a bucket name of 3-63 lowercase letters, digits, '-' or '.'")
    if importlib.util.find_spec("obstore") is None:
        raise ValueError(f"`root`: {root!r} needs the object-storage client: pip install 'md-ingest[s3]' (obstore)")


def lake_root_problem(root: str) -> str:
    """Why the lake cannot live at ``root`` (``""`` when it can): checked when the config is read,
    so ``mdi config check`` says so and ``mdi run`` refuses before it starts anything. The nearest
    existing directory on the way must be a writable directory (the rest is created)."""
    probe = Path(root).expanduser()
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        return f"{str(probe)!r} is not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{str(probe)!r} is not writable"
    return ""


def known_decimal_columns() -> list[str]:
    """Every ``<stream>.<path>`` that ``column_scales`` accepts."""
    return [name for schema in builtin_schemas(Scales()).values() for name in decimal_columns(schema)]
