"""The connector against the Deribit simulator, over both transports."""

from __future__ import annotations

import json
import logging
import time
from decimal import Decimal

import pytest
from deribit_testkit import exact, frame, harness, running, wait_for
from mdi.events import OptionTicker, VolIndex

from mdi_deribit.instruments import select_options
from mdi_deribit.sim import DeribitSimulator
from mdi_deribit.wire import INSTRUMENTS

RECORDED = {
    "BTC-30SEP22-60000-C": "ticker_option_BTC-30SEP22-60000-C_100ms_live_2022.json",
    "BTC-26JUN26-150000-C": "ticker_option_BTC-26JUN26-150000-C_100ms_empty_bid_handbuilt.json",
    "BTC-2JAN26-80000-P": "ticker_option_BTC-2JAN26-80000-P_100ms_expired_handbuilt.json",
    "BTC-25SEP26-140000-C": "ticker_option_BTC-25SEP26-140000-C_100ms_exponent_handbuilt.json",
}


@pytest.mark.anyio
async def test_recorded_frames_arrive_as_exact_events(transport: str) -> None:
    async with DeribitSimulator() as sim:
        for name in RECORDED:
            sim.market.add_option(name)
        h = harness(sim.url, transport, discover=False, instruments=list(RECORDED))
        async with running(h, sim, feed=None):
            await wait_for(lambda: h.stats.state in ("subscribed", "live") and len(sim.channels()) == 5)
            texts = [frame(f) for f in RECORDED.values()] + [frame("dvol_btc_usd_handbuilt.json")]
            await sim.replay(texts)
            await wait_for(lambda: len(h.of(OptionTicker)) == 4 and len(h.of(VolIndex)) == 1)
    tickers = h.of(OptionTicker)
    assert [t.symbol for t in tickers] == list(RECORDED)
    for t, text in zip(tickers, texts):
        d = exact(text)["params"]["data"]
        assert t.ts_exchange == int(d["timestamp"]) * 1_000_000
        assert (t.mark_price, t.mark_iv, t.index_price) == (d["mark_price"], d["mark_iv"], d["index_price"])
        assert t.underlying_price == d["underlying_price"] and t.open_interest == d["open_interest"]
        assert t.greeks.delta == d["greeks"]["delta"] and t.greeks.vega == d["greeks"]["vega"]
    assert tickers[0].best_bid_price == Decimal("0.008") and tickers[0].best_ask_amount == Decimal("18.5")
    assert tickers[1].best_bid_price is None and tickers[1].best_ask_price == Decimal("0.001")
    assert tickers[2].best_ask_price is None and tickers[2].ask_iv is None
    assert tickers[3].mark_price == Decimal("0.0001423")
    assert h.of(VolIndex)[0].value == Decimal("52.87")
    assert h.statuses()[:3] == ["connecting", "connected", "subscribed"]
    assert h.stats.parse_errors == 0 and h.stats.sub_rejections == 0


@pytest.mark.anyio
async def test_discovery_subscribes_the_selected_options_in_chunks(transport: str) -> None:
    async with DeribitSimulator() as sim:
        h = harness(sim.url, transport, max_instruments=40, subscribe_chunk=15, stale_after=10)
        async with running(h, sim, feed=None):
            await wait_for(lambda: len(sim.channels()) == 41)
            channels = sim.channels()
    listed = INSTRUMENTS.decode(json.dumps([sim.market.instrument(o) for o in sim.market.listed(int(time.time() * 1000))]))
    expected = select_options(listed, currency="BTC", now_ns=time.time_ns(), max_days_to_expiry=60,
                              moneyness_band=0.3, max_instruments=40, reference=h.connector.reference)
    assert h.connector.reference == Decimal(str(round(sim.market.index_price, 2)))
    assert channels == {f"ticker.{n}.100ms" for n in expected} | {"deribit_volatility_index.btc_usd"}
    subscribes = [r for r in sim.received if '"public/subscribe"' in r]
    assert len(subscribes) == 1 + 3  # DVOL at once, then 15 + 15 + 10 paced from periodic
    assert sim.requests["public/set_heartbeat"] == 1 and sim.requests["public/get_instruments"] == 1


@pytest.mark.anyio
async def test_heartbeat_test_requests_are_answered(transport: str) -> None:
    async with DeribitSimulator() as sim:
        sim.heartbeat_every, sim.test_timeout = 0.1, 0.3
        h = harness(sim.url, transport, max_instruments=2)
        async with running(h, sim):
            await wait_for(lambda: sim.requests["public/test"] >= 5)
    assert sim.connect_count == 1 and sim.heartbeat_closes == 0 and h.stats.reconnects == 0
    assert h.stats.parse_errors == 0


@pytest.mark.anyio
async def test_garbage_is_counted_and_skipped(transport: str) -> None:
    async with DeribitSimulator() as sim:
        h = harness(sim.url, transport, max_instruments=2)
        async with running(h, sim):
            await wait_for(lambda: len(h.of(OptionTicker)) > 2)
            await sim.send_raw("CloudFlare WebSocket proxy restarting")
            await sim.send_raw('{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-1JAN30-1-C.100ms",'
                               '"data":{"instrument_name":"BTC-1JAN30-1-C","timestamp":"later"}}}')
            await wait_for(lambda: h.stats.parse_errors == 2)
            before = len(h.of(OptionTicker))
            await wait_for(lambda: len(h.of(OptionTicker)) > before + 2)
    assert sim.connect_count == 1 and h.stats.reconnects == 0


@pytest.mark.anyio
async def test_rejected_subscription_is_an_error_in_stats_and_log(transport: str, caplog: pytest.LogCaptureFixture) -> None:
    async with DeribitSimulator() as sim:
        good, bad = "BTC-30SEP22-60000-C", "BTC-25SEP26-140000-C"
        sim.market.add_option(good)
        sim.market.add_option(bad)
        sim.reject = {f"ticker.{bad}.100ms"}
        h = harness(sim.url, transport, discover=False, instruments=[good, bad, "BTC-1JAN30-1-Q"])
        with caplog.at_level(logging.ERROR, logger="test.deribit"):
            async with running(h, sim, feed=None):
                await wait_for(lambda: h.stats.state in ("subscribed", "live") and h.stats.sub_rejections == 2)
                channels = sim.channels()
    reason = "not in the subscribe result (unknown or unavailable channel)"
    assert sorted(h.stats.rejected) == [f"ticker.BTC-1JAN30-1-Q.100ms: {reason}", f"ticker.{bad}.100ms: {reason}"]
    assert h.stats.sub_rejections == 2
    assert channels == {f"ticker.{good}.100ms", "deribit_volatility_index.btc_usd"}
    rejected = [r for r in caplog.records if r.getMessage() == "subscription rejected"]
    assert len(rejected) == 2 and all(r.levelno == logging.ERROR for r in rejected)
