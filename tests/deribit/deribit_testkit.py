"""Helpers shared by the Deribit tests: recorded frames, a connector harness, a session with a
hand-driven clock. Real peers only: the connector runs against :class:`DeribitSimulator`."""

from __future__ import annotations

import json
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import anyio
from mdi.components import ConnectorContext
from mdi.events import EventBase
from mdi.stats import VenueStats
from mdi.transport import get_transport

from mdi_deribit.config import DeribitConfig
from mdi_deribit.connector import DeribitConnector
from mdi_deribit.session import DeribitSession
from mdi_deribit.sim import DeribitSimulator

FRAMES = Path(__file__).parent / "frames"
FAST = {"stale_after": 1.0, "backoff_initial": 0.05, "backoff_max": 0.2, "ack_timeout": 2.0, "open_timeout": 2.0,
        "subscribe_rate": 3.3}


def frame(name: str) -> str:
    return (FRAMES / name).read_text().strip()


def frame_lines(name: str) -> list[str]:
    return [line for line in (FRAMES / name).read_text().splitlines() if line.strip()]


def exact(text: str) -> Any:
    """JSON with every number as the Decimal of its text: the expected values."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


@dataclass
class Harness:
    """A connector with a ConnectorContext whose ``emit`` appends to ``events``."""

    config: DeribitConfig
    transport: str
    events: list[EventBase] = field(default_factory=list)
    stats: VenueStats = field(default_factory=lambda: VenueStats(name="deribit"))
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("test.deribit"))

    def __post_init__(self) -> None:
        self.connector = DeribitConnector(self.config)
        self.connector.tick = 0.05  # type: ignore[misc]  # paced requests leave on time; tests stay short

        async def emit(batch: list[EventBase]) -> None:
            self.events.extend(batch)

        self.ctx = ConnectorContext(
            name="deribit", stats=self.stats, emit=emit, transport=get_transport(self.transport), log=self.log
        )

    def of(self, kind: type[EventBase]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def statuses(self) -> list[str]:
        return [getattr(e, "state") for e in self.events if type(e).__name__ == "ConnectionStatus"]


def harness(url: str, transport: str, **overrides: Any) -> Harness:
    return Harness(DeribitConfig(url=url, **{**FAST, **overrides}), transport)


@asynccontextmanager
async def running(h: Harness, sim: DeribitSimulator, feed: float | None = 0.05) -> AsyncIterator[None]:
    """Run the connector (and the simulator's data feed every ``feed`` s) for the block's duration."""
    async with anyio.create_task_group() as tg:
        if feed:
            tg.start_soon(sim.run_feed, feed)
        tg.start_soon(h.connector.run, h.ctx)
        yield
        tg.cancel_scope.cancel()


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.01)


class Clock:
    """A hand-driven ``ctx.clock`` for session tests (ns)."""

    def __init__(self, start_ns: int = 1_790_000_000_000_000_000) -> None:
        self.now = start_ns

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> int:
        self.now += int(seconds * 1e9)
        return self.now


def session(config: DeribitConfig | None = None, clock: Clock | None = None) -> tuple[DeribitSession, Harness]:
    """A session outside any socket: feed it frames, read its outbox."""
    h = Harness(config or DeribitConfig(), "picows")
    if clock is not None:
        h.ctx.clock = clock
    return h.connector.new_session(h.ctx), h


def sent(session_: DeribitSession, messages: list[str] | None = None) -> list[dict[str, Any]]:
    """Decode (and clear) the session's outbox, or the given messages."""
    if messages is None:
        messages, session_.outbox = session_.outbox, []
    return [json.loads(m) for m in messages]
