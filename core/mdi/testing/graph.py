"""The real graph, run in-process on a temporary lake, and the lake read back.

Plugin tests should exercise what ``mdi run`` runs: the core's router, supervisor and sinks, not a
hand-made context. :class:`GraphRun` assembles a config (TOML text) with the installed plugins
plus any in-process ones, runs :class:`mdi.runtime.Service` in the caller's event loop, and stops
it in order on exit, so every accepted event is flushed to the lake before the test reads it.
:func:`read_lake` reads one stream back with pyarrow (every row, every partition).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio

from mdi.config import parse_config
from mdi.graph import Graph, assemble
from mdi.plugins import build_plugin_host
from mdi.runtime import Service

LAKE_VERSION = "v1"


def stream_dir(lake: str | Path, stream: str) -> Path:
    """Folder of one stream (``trade``, ``bbo``, ...) in a Parquet lake rooted at ``lake``."""
    return Path(lake) / LAKE_VERSION / stream


def read_lake(lake: str | Path, stream: str) -> list[dict[str, Any]]:
    """Every row of ``stream`` as dicts (prices as ``Decimal``), ordered by ``seq``.

    Only finished files are read (``*.parquet``; a ``.tmp`` is a write in progress). An absent
    stream reads as no rows, so a test can wait for rows to appear. Timestamp columns come back
    as integer nanoseconds, as events carry them (``datetime`` would cut them to microseconds).
    """
    import pyarrow.parquet as pq

    folder = stream_dir(lake, stream)
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.rglob("*.parquet")) if folder.exists() else []:
        rows.extend(_ns_ints(pq.read_table(path, partitioning=None)).to_pylist())
    rows.sort(key=lambda r: r.get("seq", 0))
    return rows


def _ns_ints(table: Any) -> Any:
    """``table`` with every timestamp column cast to int64 (nanoseconds since the epoch)."""
    import pyarrow as pa

    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.timestamp("ns", f.type.tz)).cast(pa.int64()))
    return table


def build_graph(config_text: str, plugins: Iterable[tuple[str, ModuleType | object]] = (), *, entrypoints: bool = True) -> Graph:
    """Assemble ``config_text`` with installed plugins (``entrypoints``) and in-process ones."""
    host = build_plugin_host(load_entrypoints=entrypoints, extra=plugins)
    return assemble(parse_config(config_text, "test-config.toml"), host)


class GraphRun:
    """A running :class:`~mdi.runtime.Service` and what a test asks of it."""

    def __init__(self, service: Service, lake: Path) -> None:
        self.service = service
        self.lake = lake

    def rows(self, stream: str) -> list[dict[str, Any]]:
        """Rows of ``stream`` already in the lake (files are written when the sink flushes)."""
        return read_lake(self.lake, stream)

    def health(self) -> dict[str, Any]:
        """The same document ``GET /health`` serves."""
        return self.service.health()

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        """Poll ``condition`` until it holds; fail after ``timeout`` s (generous: CI is loaded)."""
        with anyio.fail_after(timeout):
            while not condition():
                await anyio.sleep(0.02)


@asynccontextmanager
async def run_graph(
    config_text: str,
    lake: str | Path,
    plugins: Iterable[tuple[str, ModuleType | object]] = (),
    *,
    entrypoints: bool = True,
    stop_timeout: float = 60.0,
) -> AsyncIterator[GraphRun]:
    """Run the graph of ``config_text`` until the block ends, then stop it in order.

    ``lake`` is where the config's Parquet sink writes (pass the same path in ``root``); on exit
    every accepted event is in the lake. ``entrypoints=False`` with ``plugins`` runs only
    in-process plugins (e.g. a module not installed yet).
    """
    service = Service(build_graph(config_text, plugins, entrypoints=entrypoints))
    async with anyio.create_task_group() as tg:
        await tg.start(_serve, service)
        try:
            yield GraphRun(service, Path(lake))
        finally:
            service.request_stop()
            with anyio.fail_after(stop_timeout):
                while service.stats.state != "stopped":
                    await anyio.sleep(0.02)


async def _serve(service: Service, *, task_status: anyio.abc.TaskStatus[Service]) -> None:
    await service.run(task_status=task_status)
