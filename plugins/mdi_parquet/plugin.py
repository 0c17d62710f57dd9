"""Registers the ``parquet`` sink with mdi (entry point ``parquet = "mdi_parquet.plugin"``)."""

from __future__ import annotations

from typing import Callable

from mdi.components import SinkSpec
from mdi.hookspecs import hookimpl
from mdi_parquet.config import ParquetSinkConfig
from mdi_parquet.sink import ParquetSink


@hookimpl
def mdi_register_sinks(register: Callable[[SinkSpec], None]) -> None:
    register(
        SinkSpec(
            name="parquet",
            config_type=ParquetSinkConfig,
            factory=ParquetSink,
            delivery="durable",
            description="Parquet lake: one stream per event kind, exact decimals, ZSTD, atomic files",
        )
    )
