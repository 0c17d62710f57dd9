"""Health tells the truth during a stall (issue #11, point 4): TCP open, heartbeats and acks
flowing, no data. After every stale reconnect the connection is acknowledged but has no data,
so /health must never say ``live`` (and the overall status is ``degraded``) until data comes."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from mdi.config import parse_config
from mdi.graph import assemble
from mdi.health import snapshot
from mdi.plugins import build_plugin_host
from mdi.runtime import Service
from mdi_coinbase.sim import CoinbaseSimulator

pytestmark = pytest.mark.anyio

STALE_AFTER = 0.4
GRACE = 1.0  # the connection live when the stall began needs stale_after plus a tick to drop


async def wait_for(condition: object, timeout: float = 30.0) -> None:
    with anyio.fail_after(timeout):
        while not condition():  # type: ignore[operator]
            await anyio.sleep(0.01)


async def test_a_stalled_venue_is_never_live_after_stale_after(tmp_path: Path) -> None:
    async with CoinbaseSimulator() as sim:
        sim.heartbeat_interval = 0.05
        text = f"""
[connectors.coinbase]
url = "{sim.sim_url()}"
stale_after = {STALE_AFTER}
backoff_initial = 0.05
backoff_max = 0.1
[sinks.parquet]
root = "{tmp_path / 'lake'}"
[http]
enabled = false
"""
        service = Service(assemble(parse_config(text), build_plugin_host()))
        async with anyio.create_task_group() as tg:
            await tg.start(service.run)
            venue = service.stats.venues["coinbase"]
            await wait_for(lambda: venue.state == "live")  # the subscribe snapshot is data
            sim.stalled = True
            stalled_at = anyio.current_time()
            seen: dict[str, int] = {}
            reconnects = venue.reconnects
            # Poll /health's view through several stale reconnects of the stalled venue.
            with anyio.fail_after(60):
                while venue.reconnects < reconnects + 3:
                    health = snapshot(service.stats)
                    state = health["venues"]["coinbase"]["state"]
                    if anyio.current_time() - stalled_at > STALE_AFTER + GRACE:
                        seen[state] = seen.get(state, 0) + 1
                        assert state != "live", health
                        assert health["status"] == "degraded" and f"venue coinbase is {state}" in health["reasons"]
                    await anyio.sleep(0.005)
            assert seen.get("subscribed", 0) > 0, seen  # re-subscribed connections were polled, not live
            sim.stalled = False  # the next connection's subscribe snapshot is data again
            await wait_for(lambda: venue.state == "live")
            assert snapshot(service.stats)["venues"]["coinbase"]["state"] == "live"
            service.request_stop()
