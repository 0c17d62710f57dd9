"""``[sinks.parquet]``: where the lake lives, when files are cut, and how decimals are stored."""

from __future__ import annotations

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
            raise ValueError("`root`: must be a directory path, got an empty string")
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

    def scales(self) -> Scales:
        return Scales(default=self.decimal_scale, overrides=dict(self.column_scales))


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
