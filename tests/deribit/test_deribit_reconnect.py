"""Reconnects, staleness and instrument refresh against the Deribit simulator, both transports."""

from __future__ import annotations

import time

import pytest
from deribit_testkit import harness, running, wait_for
from mdi.events import OptionTicker

from mdi_deribit.sim import DeribitSimulator
from mdi_deribit.simmarket import expiry_code


@pytest.mark.anyio
async def test_reconnect_resubscribes(transport: str) -> None:
    async with DeribitSimulator() as sim:
        h = harness(sim.url, transport, max_instruments=8)
        async with running(h, sim):
            await wait_for(lambda: len(sim.channels()) == 9 and len(h.of(OptionTicker)) > 8)
            first = sim.channels()
            await sim.disconnect_all()
            await wait_for(lambda: sim.connect_count == 2 and sim.channels() == first)
            before = len(h.events)
            await wait_for(lambda: len(h.events) > before + 9)
    assert h.stats.reconnects == 1
    assert h.statuses().count("subscribed") == 2 and "disconnected" in h.statuses()
    assert sim.requests["public/set_heartbeat"] == 2 and sim.requests["public/get_instruments"] == 2


@pytest.mark.anyio
async def test_stale_data_reconnects_although_heartbeats_continue(transport: str) -> None:
    async with DeribitSimulator() as sim:
        sim.heartbeat_every = 0.1
        h = harness(sim.url, transport, max_instruments=4, stale_after=0.6)
        async with running(h, sim):
            await wait_for(lambda: h.stats.state in ("subscribed", "live") and len(h.of(OptionTicker)) > 4)
            tests_before = sim.requests["public/test"]
            sim.stalled = True
            await wait_for(lambda: "stale" in h.statuses())
            assert sim.requests["public/test"] > tests_before  # the link was alive, data was not
            sim.stalled = False
            await wait_for(lambda: sim.connect_count == 2 and h.stats.state in ("subscribed", "live"))
    assert h.stats.last_error == "stale: no data for 0.6s"
    assert sim.heartbeat_closes == 0


@pytest.mark.anyio
async def test_refresh_follows_new_and_expired_options(transport: str) -> None:
    async with DeribitSimulator() as sim:
        h = harness(sim.url, transport, max_instruments=10, moneyness_band=0, instrument_refresh=0.3)
        async with running(h, sim):
            await wait_for(lambda: len(sim.channels()) == 11)
            first = sim.channels()
            gone = sorted(c for c in first if c.startswith("ticker."))[0].split(".")[1]
            sim.market.options[gone].expiry_ms = int(time.time() * 1000) - 1000
            new_expiry = int((time.time() + 3 * 86_400) * 1000)
            new = sim.market.add_option(f"BTC-{expiry_code(new_expiry)}-32000-C")
            new.expiry_ms = new_expiry
            await wait_for(lambda: f"ticker.{new.name}.100ms" in sim.channels()
                           and f"ticker.{gone}.100ms" not in sim.channels())
            channels = sim.channels()
    assert sim.requests["public/unsubscribe"] >= 1 and sim.requests["public/get_instruments"] >= 2
    assert len(channels) == 11 and sim.connect_count == 1 and h.stats.reconnects == 0
