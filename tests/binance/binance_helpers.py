"""Shared by the Binance tests: recorded frames, a hand-built connector context, run helpers."""

from __future__ import annotations

import logging
from pathlib import Path
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable

import anyio
import msgspec

from mdi.components import ConnectorContext
from mdi.events import ConnectionStatus, EventBase, MarkPrice
from mdi.stats import VenueStats
from mdi.transport import get_transport

from mdi_binance.config import BinanceConfig
from mdi_binance.connector import BinanceConnector
from mdi_binance.session import BinanceSession
from mdi_binance.sim import BinanceSimulator

FRAMES = Path(__file__).parent / "frames"
TRANSPORTS = ["httpx-ws", "picows"]


def frame(name: str) -> bytes:
    return (FRAMES / name).read_bytes().strip()


class Harness:
    """A ConnectorContext whose ``emit`` collects events, with real stats and a real logger."""

    def __init__(self, transport: str = "picows", name: str = "binance") -> None:
        self.stats = VenueStats(name=name)
        self.events: list[EventBase] = []
        self.log = logging.getLogger(f"test.{name}")
        self.ctx = ConnectorContext(name=name, stats=self.stats, emit=self._emit, transport=get_transport(transport), log=self.log)

    async def _emit(self, batch: list[EventBase]) -> None:
        self.events.extend(batch)

    def marks(self) -> list[MarkPrice]:
        return [e for e in self.events if isinstance(e, MarkPrice)]

    def states(self) -> list[str]:
        return [e.state for e in self.events if isinstance(e, ConnectionStatus)]


def make_config(url: str, **overrides: Any) -> BinanceConfig:
    """Small timeouts so liveness tests take a second, not a minute."""
    base: dict[str, Any] = {"url": url, "stale_after": 5.0, "ack_timeout": 3.0, "backoff_initial": 0.05, "backoff_max": 0.2, "open_timeout": 3.0}
    return msgspec.convert({**base, **overrides}, BinanceConfig)


def make_session(config: BinanceConfig | None = None, harness: Harness | None = None) -> tuple[BinanceSession, Harness]:
    harness = harness or Harness()
    connector = BinanceConnector(config or make_config("ws://127.0.0.1:1/market/stream"))
    return connector.new_session(harness.ctx), harness


@asynccontextmanager
async def running(connector: BinanceConnector, harness: Harness) -> AsyncIterator[None]:
    """The connector's ``run`` in a task group for the duration of the block, then cancelled."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(connector.run, harness.ctx)
        yield
        tg.cancel_scope.cancel()


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.01)


def new_sim(**kwargs: Any) -> BinanceSimulator:
    return BinanceSimulator(**kwargs)
