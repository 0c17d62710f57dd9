"""mdi's pytest plugin (entry point ``pytest11: mdi``): fixtures for plugin authors' tests.

Installed with md-ingest, so any distribution's tests get these fixtures without a conftest:

- ``mdi_simulator``: the venue simulator class named by the ``mdi_simulator_class`` fixture
  (override it in your conftest), started on 127.0.0.1 for the test and stopped after it.
- ``mdi_redis_server``: a private, real ``redis-server`` on a free port
  (:class:`mdi.testing.redis_server.RedisServer`).
- ``mdi_lake``: an empty folder for a Parquet lake.
- ``mdi_run_graph``: ``async with mdi_run_graph(config_text) as run:`` runs the real graph
  (router, supervisor, sinks) in-process and stops it in order on exit
  (:func:`mdi.testing.graph.run_graph`, its lake defaulting to ``mdi_lake``).
- ``mdi_read_lake``: ``mdi_read_lake("trade")`` reads a stream of ``mdi_lake`` back with pyarrow.

Async fixtures run on anyio: mark the test ``@pytest.mark.anyio``; ``anyio_backend`` defaults to
asyncio here (mdi runs on asyncio).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mdi.testing.redis_server import RedisServer
    from mdi.testing.sim import VenueSimulator


@pytest.fixture
def anyio_backend() -> str:
    """mdi runs on asyncio; a conftest may override this fixture."""
    return "asyncio"


@pytest.fixture
def mdi_simulator_class() -> type[VenueSimulator]:
    """The simulator ``mdi_simulator`` starts: override this fixture in your conftest."""
    raise pytest.UsageError(
        "mdi_simulator needs to know your venue: define a fixture `mdi_simulator_class` "
        "in conftest.py returning your VenueSimulator subclass"
    )


@pytest.fixture
async def mdi_simulator(mdi_simulator_class: type[VenueSimulator]) -> AsyncIterator[VenueSimulator]:
    """A started simulator on 127.0.0.1 (a real WebSocket server); stopped after the test."""
    async with mdi_simulator_class() as sim:
        yield sim


@pytest.fixture
def mdi_redis_server() -> Iterator[RedisServer]:
    """A private ``redis-server`` (needs the binary on PATH or ``$MDI_REDIS_SERVER``)."""
    from mdi.testing.redis_server import RedisServer

    with RedisServer() as server:
        yield server


@pytest.fixture
def mdi_lake(tmp_path: Path) -> Path:
    """An empty lake folder; put it in your config as ``[sinks.parquet] root``."""
    lake = tmp_path / "lake"
    lake.mkdir()
    return lake


@pytest.fixture
def mdi_run_graph(mdi_lake: Path) -> Callable[..., Any]:
    """``run_graph`` with the lake defaulting to ``mdi_lake`` (see :mod:`mdi.testing.graph`)."""
    from mdi.testing.graph import run_graph

    def start(config_text: str, **kwargs: Any) -> Any:
        kwargs.setdefault("lake", mdi_lake)
        return run_graph(config_text, **kwargs)

    return start


@pytest.fixture
def mdi_read_lake(mdi_lake: Path) -> Callable[[str], list[dict[str, Any]]]:
    """Read a stream of ``mdi_lake`` back: rows as dicts, ordered by ``seq``."""
    from mdi.testing.graph import read_lake

    return functools.partial(read_lake, mdi_lake)
