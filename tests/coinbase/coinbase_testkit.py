"""Helpers shared by the Coinbase tests (a uniquely named module: test dirs have no __init__)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import anyio

from mdi.components import ConnectorContext
from mdi.connector import PARSE_ERRORS
from mdi.events import EventBase
from mdi.stats import VenueStats
from mdi.transport import get_transport

from mdi_coinbase.config import CoinbaseConfig
from mdi_coinbase.connector import CoinbaseConnector
from mdi_coinbase.session import CoinbaseSession
from mdi_coinbase.sim import CoinbaseSimulator

FRAMES = Path(__file__).resolve().parent / "frames"
LOG = logging.getLogger("test.coinbase")
RECV_NS = 1_791_969_670_000_000_000  # 2026-10-14T09:21:10Z, after every frame in frames/
E = TypeVar("E", bound=EventBase)


def frame(name: str) -> bytes:
    """A recorded frame from ``tests/coinbase/frames`` as the bytes a transport delivers."""
    return (FRAMES / name).read_bytes().strip()


def frames(name: str) -> list[bytes]:
    """Every line of a ``.jsonl`` file in ``tests/coinbase/frames``."""
    return [line for line in (FRAMES / name).read_bytes().splitlines() if line.strip()]


class Harness:
    """A connector with a hand-built context whose ``emit`` collects events."""

    def __init__(self, config: CoinbaseConfig | None = None, transport: str = "picows") -> None:
        self.config = config or CoinbaseConfig()
        self.connector = CoinbaseConnector(self.config)
        self.stats = VenueStats(name="coinbase")
        self.events: list[EventBase] = []
        self.ctx = ConnectorContext(
            name="coinbase", stats=self.stats, emit=self._emit, transport=get_transport(transport), log=LOG
        )

    async def _emit(self, batch: list[EventBase]) -> None:
        self.events.extend(batch)

    def session(self) -> CoinbaseSession:
        session = self.connector.new_session(self.ctx)
        assert isinstance(session, CoinbaseSession)
        return session

    def of(self, cls: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, cls)]

    def feed(self, session: CoinbaseSession, data: list[bytes], recv_ns: int = RECV_NS) -> list[bool]:
        """Parse frames like the connector loop does: events collected, parse errors counted."""
        results: list[bool] = []
        for item in data:
            out: list[EventBase] = []
            try:
                results.append(session.on_frame(item, recv_ns, out))
            except PARSE_ERRORS:
                self.stats.parse_errors += 1
                results.append(False)
            self.events.extend(out)
        return results

    @asynccontextmanager
    async def running(self, sim: CoinbaseSimulator) -> AsyncIterator[None]:
        """Start ``sim`` and this connector (pointed at it); cancel both on exit."""
        async with sim:
            self.config.url = sim.sim_url()
            self.config.rest_url = sim.rest_url
            async with anyio.create_task_group() as tg:
                tg.start_soon(self.connector.run, self.ctx)
                try:
                    yield
                finally:
                    tg.cancel_scope.cancel()


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.01)


def fast_config(**overrides: object) -> CoinbaseConfig:
    """Small timeouts so reconnect/staleness tests stay quick."""
    settings: dict[str, object] = {"stale_after": 5.0, "backoff_initial": 0.05, "backoff_max": 0.2, "ack_timeout": 3.0}
    settings.update(overrides)
    return CoinbaseConfig(**settings)  # type: ignore[arg-type]
