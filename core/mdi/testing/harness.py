"""Drive one connector without the router: recorded frames through a session, or a live run.

The graph (:mod:`mdi.testing.graph`) is the test of record; this harness is for the parser's
unit tests, where a test wants exact events from exact frames. It builds the same
:class:`~mdi.components.ConnectorContext` the runtime builds, with an ``emit`` that collects.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio

from mdi.components import ConnectorContext
from mdi.connector import PARSE_ERRORS, VenueSession, WsConnector
from mdi.events import EventBase
from mdi.stats import VenueStats
from mdi.testing.sim import VenueSimulator
from mdi.transport import get_transport

E = TypeVar("E", bound=EventBase)


def read_frames(path: str | Path) -> list[bytes]:
    """Every non-empty line of a ``.jsonl`` recording, as the bytes a transport delivers."""
    return [line for line in Path(path).read_bytes().splitlines() if line.strip()]


class ConnectorHarness:
    """A :class:`~mdi.connector.WsConnector` with a context whose ``emit`` collects events."""

    def __init__(self, connector: WsConnector[Any], name: str | None = None, transport: str = "auto") -> None:
        self.connector = connector
        self.name = name or connector.venue
        self.stats = VenueStats(name=self.name)
        self.events: list[EventBase] = []
        self.ctx = ConnectorContext(
            name=self.name, stats=self.stats, emit=self._emit, transport=get_transport(transport),
            log=logging.getLogger(f"mdi.test.{self.name}"),
        )

    async def _emit(self, batch: list[EventBase]) -> None:
        self.events.extend(batch)

    def session(self) -> VenueSession:
        """A fresh session, as the loop makes after each (re)connect."""
        return self.connector.new_session(self.ctx)

    def feed(self, session: VenueSession, frames: Iterable[bytes | str], recv_ns: int) -> list[bool]:
        """Parse frames as the loop does: events collected, parse errors counted, not raised."""
        results: list[bool] = []
        for frame in frames:
            out: list[EventBase] = []
            try:
                results.append(session.on_frame(frame, recv_ns, out))
            except PARSE_ERRORS:
                self.stats.parse_errors += 1
                results.append(False)
            self.events.extend(out)
        return results

    def of(self, cls: type[E]) -> list[E]:
        """The collected events of one type, in order."""
        return [e for e in self.events if isinstance(e, cls)]

    @asynccontextmanager
    async def running(self, sim: VenueSimulator) -> AsyncIterator[ConnectorHarness]:
        """Run the connector's reconnect loop against a started ``sim``; cancelled on exit."""
        self.connector.config.url = sim.sim_url()
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.connector.run, self.ctx)
            try:
                yield self
            finally:
                tg.cancel_scope.cancel()

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        """Poll ``condition`` until it holds; fail after ``timeout`` s (generous: CI is loaded)."""
        with anyio.fail_after(timeout):
            while not condition():
                await anyio.sleep(0.01)
