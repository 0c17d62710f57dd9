"""The connector's hand-off to the router survives cancellation (the root cause of SIGTERM loss):
an ``emit`` cancelled while waiting for room has queued nothing, so the batch is sent again under
a shielded, bounded scope, and ``events`` counts only what the router took."""

from __future__ import annotations

import logging
from decimal import Decimal

import anyio
import pytest

from mdi.channel import BatchChannel
from mdi.components import ConnectorContext
from mdi.connector import WsConnector
from mdi.events import EventBase, Trade
from mdi.stats import VenueStats

pytestmark = pytest.mark.anyio


def trades(n: int, first: int = 0) -> list[EventBase]:
    return [Trade(venue="t", symbol="BTC-USD", ts_recv=1, trade_id=str(first + i), price=Decimal("1"), size=Decimal("1"))
            for i in range(n)]


async def test_a_cancelled_emit_still_delivers_its_batch_once_the_router_makes_room() -> None:
    ingress: BatchChannel[EventBase] = BatchChannel("ingress", 10)
    await ingress.put(trades(10))  # full: the next emit waits (back-pressure)
    stats = VenueStats(name="t")
    ctx = ConnectorContext(name="t", stats=stats, emit=ingress.put, transport=None,  # type: ignore[arg-type]
                           log=logging.getLogger("test.delivery"))
    batch = trades(5, first=10)
    async with anyio.create_task_group() as tg:
        tg.start_soon(WsConnector._deliver, ctx, batch)
        await anyio.sleep(0.05)
        tg.cancel_scope.cancel()  # shutdown cancels the connector while its emit waits
        with anyio.CancelScope(shield=True):
            first = ingress.get_nowait(100)  # the router drains, as it does during shutdown
            with anyio.fail_after(10):
                while ingress.size == 0:
                    await anyio.sleep(0.01)
    assert [e.trade_id for e in first + ingress.get_nowait(100)] == [str(i) for i in range(15)]  # type: ignore[attr-defined]
    assert stats.events == 5 and stats.undelivered == 0


async def test_an_emit_that_completes_counts_its_events() -> None:
    ingress: BatchChannel[EventBase] = BatchChannel("ingress", 100)
    stats = VenueStats(name="t")
    ctx = ConnectorContext(name="t", stats=stats, emit=ingress.put, transport=None,  # type: ignore[arg-type]
                           log=logging.getLogger("test.delivery"))
    await WsConnector._deliver(ctx, trades(3))
    assert stats.events == 3 and ingress.size == 3
