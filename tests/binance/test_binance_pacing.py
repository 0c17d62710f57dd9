"""Binance drops a connection that sends more than 10 messages a second. The simulator enforces
a (lower) limit; the connector's paced SUBSCRIBE requests stay under it."""

from __future__ import annotations

import json

import anyio
import pytest

from mdi.transport import ConnectionClosed, get_transport

from binance_helpers import TRANSPORTS, Harness, make_config, new_sim, running, wait_for
from mdi_binance.connector import BinanceConnector

pytestmark = pytest.mark.anyio
SYMBOLS = [f"S{i}USDT" for i in range(8)]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_simulator_drops_a_client_that_sends_too_fast(transport: str) -> None:
    """The control for the next test: an unpaced client is cut off."""
    async with new_sim(max_messages_per_second=4) as sim:
        async with get_transport(transport).connect(sim.sim_url(), open_timeout=3) as ws:
            for i in range(1, 7):
                await ws.send_text(json.dumps({"method": "SUBSCRIBE", "params": [f"s{i}usdt@markPrice@1s"], "id": i}))
            with pytest.raises(ConnectionClosed) as info:
                with anyio.fail_after(3):
                    while True:
                        await ws.recv_batch()
    assert info.value.code == 1008
    assert sim.rate_violations == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_subscribe_requests_are_paced(transport: str) -> None:
    harness = Harness(transport=transport)
    async with new_sim(symbols=tuple(SYMBOLS), max_messages_per_second=4) as sim:
        config = make_config(sim.sim_url(), symbols=SYMBOLS, streams_per_request=1, max_requests_per_second=4)
        connector = BinanceConnector(config)
        async with running(connector, harness):
            await wait_for(lambda: harness.stats.state in ("subscribed", "live"))
    assert [r["id"] for r in sim.requests] == list(range(1, 9))
    assert sim.rate_violations == 0
    assert sim.max_messages_seen <= 4
    assert sim.connect_count == 1
    assert len(harness.states()) == 3  # connecting, connected, subscribed: no reconnect
