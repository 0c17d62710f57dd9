"""Helpers for the gap-repair tests: connectors against their simulators (WebSocket and REST on
one loopback port), events collected by a plain ``emit``."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, TypeVar

import anyio
import pytest

from mdi.components import ConnectorContext
from mdi.connector import WsConnector
from mdi.events import EventBase, SequenceGap, Trade
from mdi.stats import VenueStats
from mdi.transport import get_transport
from mdi_kraken.config import KrakenConfig
from mdi_kraken.connector import KrakenConnector
from mdi_kraken.sim import KrakenSimulator

LOG = logging.getLogger("test.backfill")
E = TypeVar("E", bound=EventBase)

# Quick reconnects, no pacing delay worth waiting for, small retry backoff.
FAST: dict[str, Any] = {"stale_after": 5.0, "backoff_initial": 0.05, "backoff_max": 0.2, "ack_timeout": 3.0,
                        "open_timeout": 3.0, "backfill_min_interval": 0.01, "backfill_backoff_max": 0.1}


class Run:
    """One connector with a collecting context."""

    def __init__(self, connector: WsConnector[Any], name: str) -> None:
        self.connector = connector
        self.stats = VenueStats(name=name)
        self.events: list[EventBase] = []
        self.ctx = ConnectorContext(name=name, stats=self.stats, emit=self._emit, transport=get_transport("picows"), log=LOG)

    async def _emit(self, batch: list[EventBase]) -> None:
        self.events.extend(batch)

    def of(self, cls: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, cls)]

    def trade_ids(self) -> list[int]:
        return [int(t.trade_id) for t in self.of(Trade)]

    def trade_gaps(self) -> list[SequenceGap]:
        return [g for g in self.of(SequenceGap) if g.channel == "trade"]

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.connector.run, self.ctx)
            try:
                await wait_for(lambda: self.stats.state in ("subscribed", "live"))  # "live" needs data
                yield
            finally:
                tg.cancel_scope.cancel()


async def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll ``condition`` until it holds; generous, since the machine is shared."""
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.01)


def contiguous(ids: list[int]) -> bool:
    return ids == list(range(ids[0], ids[0] + len(ids)))


KRAKEN_PAIR = "BTC/USD"


@pytest.fixture(name="sim")
async def kraken_sim() -> AsyncIterator[KrakenSimulator]:
    """A Kraken simulator (WebSocket and REST on one port) beating every 0.2 s; a test module
    takes it as ``sim`` by importing this fixture."""
    async with KrakenSimulator(heartbeat_interval=0.2) as simulator:
        yield simulator


def kraken_run(sim: KrakenSimulator, **overrides: object) -> Run:
    """A Kraken connector on ``sim`` with gap repair against its REST endpoint, trades only."""
    settings = {**FAST, "url": sim.url, "rest_url": sim.rest_url, "bbo": False, **overrides}
    return Run(KrakenConnector(KrakenConfig(**settings)), "kraken")  # type: ignore[arg-type]
