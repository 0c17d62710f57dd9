"""Helpers shared by the Kraken tests (a uniquely named module: test dirs have no __init__)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import anyio

from mdi.components import ConnectorContext
from mdi.events import EventBase
from mdi.stats import VenueStats
from mdi.transport import get_transport

from mdi_kraken.config import KrakenConfig
from mdi_kraken.connector import KrakenConnector
from mdi_kraken.session import KrakenSession

FRAMES = Path(__file__).resolve().parent / "frames"
LOG = logging.getLogger("test.kraken")


def frame(name: str) -> bytes:
    """A recorded frame from ``tests/kraken/frames`` as the bytes a transport delivers."""
    return (FRAMES / name).read_bytes().strip()


class Clock:
    """A settable clock (ns) so ping timing is exact in session tests."""

    def __init__(self, start: int = 1_772_615_727_500_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now


class Harness:
    """A connector with a hand-built context whose ``emit`` collects events."""

    def __init__(self, config: KrakenConfig | None = None, transport: str = "picows",
                 clock: Callable[[], int] | None = None) -> None:
        self.config = config or KrakenConfig()
        self.connector = KrakenConnector(self.config)
        self.stats = VenueStats(name="kraken")
        self.events: list[EventBase] = []
        kwargs = {"clock": clock} if clock is not None else {}
        self.ctx = ConnectorContext(name="kraken", stats=self.stats, emit=self._emit,
                                    transport=get_transport(transport), log=LOG, **kwargs)

    async def _emit(self, batch: list[EventBase]) -> None:
        self.events.extend(batch)

    def session(self) -> KrakenSession:
        session = self.connector.new_session(self.ctx)
        assert isinstance(session, KrakenSession)
        return session

    def of(self, cls: type) -> list:
        return [e for e in self.events if isinstance(e, cls)]


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.01)
