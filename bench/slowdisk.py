"""A bench-only ``slow_parquet`` sink: the real Parquet sink on a simulated slow disk.

Nothing about the sink changes except its thread-side writer: before each file is written, the
writer thread sleeps for as long as a disk with ``disk_mb_per_s`` of bandwidth and
``disk_latency`` of fixed cost per file (seek, fsync) would take to store it. The file is then
written, fsynced and renamed exactly as on a real disk, so it becomes visible no sooner than the
slow disk would allow, and meanwhile the sink does not consume: its channel fills and the
router, the connectors and finally the venue's socket slow down (back-pressure), as with a real
slow disk. The sleep happens in the worker thread, like a blocking write, so the event loop keeps
serving the other sinks and pipelines.

The size of a file is not known before it is compressed, so each stream's bytes per row are
taken from its previous file (a first file is assumed at 16 bytes per row, close to the measured
14 for BBOs and 7 for trades). The ``disk_*`` keys are the only additions to ``[sinks.parquet]``::

    [sinks.slow_parquet]
    root = "/tmp/lake"
    disk_mb_per_s = 0.5
    disk_latency = 0.02

Registered only inside the benchmark's service process (``bench/service.py``), never through an
entry point, so it cannot end up in a production config.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable

import msgspec

from mdi.components import SinkSpec
from mdi.hookspecs import hookimpl
from mdi_parquet.config import ParquetSinkConfig
from mdi_parquet.sink import ParquetSink
from mdi_parquet.writer import LakeWriter, PendingFile, Written

FIRST_GUESS_BYTES_PER_ROW = 16.0


class SlowDiskConfig(ParquetSinkConfig, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """``[sinks.parquet]`` plus the simulated disk's bandwidth and per-file latency."""

    disk_mb_per_s: Annotated[float, msgspec.Meta(gt=0)] = 0.5
    disk_latency: Annotated[float, msgspec.Meta(ge=0)] = 0.02


@dataclass
class Disk:
    bytes_per_s: float
    latency_s: float
    slept_s: float = 0.0


class SlowLakeWriter(LakeWriter):
    """A :class:`LakeWriter` whose every file first waits for the simulated disk."""

    def __init__(self, *args: Any, disk: Disk, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.disk = disk
        self.bytes_per_row: dict[str, float] = {}

    def _write(self, item: PendingFile) -> Written:
        stream = item.schema.stream
        guess = self.bytes_per_row.get(stream, FIRST_GUESS_BYTES_PER_ROW) * item.table.num_rows
        delay = self.disk.latency_s + guess / self.disk.bytes_per_s
        time.sleep(delay)  # a worker thread, like a blocking write: the event loop keeps running
        self.disk.slept_s += delay
        written = super()._write(item)
        self.bytes_per_row[stream] = written.size / max(1, written.rows)
        return written


class SlowParquetSink(ParquetSink):
    def __init__(self, config: SlowDiskConfig) -> None:
        super().__init__(config)
        self.disk = Disk(bytes_per_s=config.disk_mb_per_s * 1e6, latency_s=config.disk_latency)
        disk = self.disk

        def make(root: Path, *args: Any, **kwargs: Any) -> LakeWriter:
            return SlowLakeWriter(root, *args, disk=disk, **kwargs)

        self.writer_class = make  # type: ignore[assignment]


class SlowDiskPlugin:
    """The in-process plugin the benchmark's service registers (name ``bench``)."""

    @hookimpl
    def mdi_register_sinks(self, register: Callable[[SinkSpec], None]) -> None:
        register(SinkSpec(
            name="slow_parquet", config_type=SlowDiskConfig, factory=SlowParquetSink, delivery="durable",
            description="benchmark only: the Parquet sink on a simulated slow disk",
        ))
