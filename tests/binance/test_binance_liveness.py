"""Liveness against the simulator over both transports: staleness (stalled feed, wrong URL path),
the maximum connection age, and protocol pings answered by the transport."""

from __future__ import annotations

import anyio
import pytest

from mdi.events import MarkPrice

from binance_helpers import TRANSPORTS, Harness, make_config, new_sim, running, wait_for
from mdi_binance.connector import BinanceConnector

pytestmark = pytest.mark.anyio


@pytest.fixture(params=TRANSPORTS)
def harness(request: pytest.FixtureRequest) -> Harness:
    return Harness(transport=request.param)


async def test_stalled_feed_with_pings_still_going_reconnects(harness: Harness) -> None:
    """Pings keep the socket alive but are not data: no data for ``stale_after`` = reconnect."""
    async with new_sim(heartbeat_interval=0.1) as sim:
        connector = BinanceConnector(make_config(sim.sim_url(), stale_after=0.5))
        async with running(connector, harness), anyio.create_task_group() as feed:
            feed.start_soon(sim.stream_demo, 50.0)
            await wait_for(lambda: len(harness.marks()) >= 3)
            sim.stalled = True
            await wait_for(lambda: sim.connect_count >= 2 and bool(sim.subscribers))
            pongs_while_stalled = sim.pongs
            sim.stalled = False
            before = len(harness.marks())
            await wait_for(lambda: len(harness.marks()) > before)
            feed.cancel_scope.cancel()
    assert pongs_while_stalled >= 2
    assert "stale" in harness.states()
    assert harness.stats.last_error == "stale: no data for 0.5s"
    assert harness.stats.reconnects >= 1
    assert len(sim.requests) >= 2  # subscribed again after the reconnect


async def test_wrong_path_is_acked_then_silent_and_detected(harness: Harness) -> None:
    """On a path other than /market the subscription is acknowledged and nothing arrives."""
    async with new_sim() as sim:
        connector = BinanceConnector(make_config(sim.url_for("/stream"), stale_after=0.5))
        async with running(connector, harness), anyio.create_task_group() as feed:
            feed.start_soon(sim.stream_demo, 50.0)
            await wait_for(lambda: sim.connect_count >= 2)
            feed.cancel_scope.cancel()
    states = harness.states()
    assert states.index("subscribed") < states.index("stale")  # acked first, then silence
    assert harness.marks() == []
    assert sim.subscribers == set()
    assert harness.stats.last_error == "stale: no data for 0.5s"


async def test_maximum_connection_age_reconnects(harness: Harness) -> None:
    """The 23.5 h default is the same mechanism as this 0.3 s one."""
    async with new_sim() as sim:
        connector = BinanceConnector(make_config(sim.sim_url(), max_connection_age=0.3))
        async with running(connector, harness), anyio.create_task_group() as feed:
            feed.start_soon(sim.stream_demo, 50.0)
            await wait_for(lambda: sim.connect_count >= 2 and len(harness.marks()) >= 3)
            feed.cancel_scope.cancel()
    assert harness.stats.last_error == "maximum connection age reached; reconnecting"
    assert harness.stats.reconnects >= 1
    assert "stale" not in harness.states()
    assert {e.venue for e in harness.events if isinstance(e, MarkPrice)} == {"binance"}


async def test_server_pings_are_answered(harness: Harness) -> None:
    """Binance pings every 3 minutes and drops a client that does not pong; the transports pong."""
    async with new_sim(heartbeat_interval=0.05, pong_timeout=0.5) as sim:
        connector = BinanceConnector(make_config(sim.sim_url()))
        async with running(connector, harness), anyio.create_task_group() as feed:
            feed.start_soon(sim.stream_demo, 50.0)
            await wait_for(lambda: sim.pongs >= 5)
            feed.cancel_scope.cancel()
    assert sim.pong_timeouts == 0
    assert sim.connect_count == 1
    assert harness.stats.reconnects == 0
