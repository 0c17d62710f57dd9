"""The Binance connector against its simulator over both transports: data, reconnects, errors."""

from __future__ import annotations

import importlib.metadata
import json
import logging
from decimal import Decimal
from itertools import islice

import pytest

from mdi.components import ConnectorSpec
from mdi.events import MarkPrice

from binance_helpers import TRANSPORTS, Harness, frame, make_config, new_sim, running, wait_for
from mdi_binance import plugin
from mdi_binance.config import BinanceConfig
from mdi_binance.connector import BinanceConnector
from mdi_binance.sim import BinanceSimulator

pytestmark = pytest.mark.anyio
MS = 1_000_000
SUBSCRIBE_BTC = {"method": "SUBSCRIBE", "params": ["btcusdt@markPrice@1s"], "id": 1}
RECORDED = [
    "combined_markPrice_1s_btcusdt_2026-02-16.json",
    "combined_markPrice_1s_btcusdt_ap_2026-10.json",
    "combined_markPrice_1s_btcusdt_no_settle_2020.json",
]


@pytest.fixture(params=TRANSPORTS)
def harness(request: pytest.FixtureRequest) -> Harness:
    return Harness(transport=request.param)


async def test_recorded_frames_become_exact_mark_prices(harness: Harness) -> None:
    async with new_sim() as sim:
        connector = BinanceConnector(make_config(sim.sim_url()))
        async with running(connector, harness):
            await wait_for(lambda: harness.stats.state in ("subscribed", "live"))
            await sim.replay(frame(name).decode() for name in RECORDED)
            await wait_for(lambda: len(harness.marks()) == 3)
    first, second, third = harness.marks()
    assert (first.symbol, first.ts_exchange) == ("BTC-USDT-PERP", 1771263510000 * MS)
    assert (first.mark_price, first.est_settle_price, first.index_price) == (
        Decimal("68005.80802899"),
        Decimal("67836.82194783"),
        Decimal("68035.14043478"),
    )
    assert (first.funding_rate, first.next_funding_ns) == (Decimal("-0.00004435"), 1771286400000 * MS)
    assert str(second.mark_price) == "84756.35776087"
    assert second.index_price == Decimal("84788.51847826")
    assert (third.mark_price, third.index_price, third.est_settle_price) == (Decimal("11857.56000000"), Decimal("11851.86949091"), None)
    assert sim.requests == [SUBSCRIBE_BTC]
    assert harness.states()[:3] == ["connecting", "connected", "subscribed"]
    assert harness.stats.frames == 4  # the ack and three data frames
    assert harness.stats.events == 3  # status events are not counted
    assert harness.stats.parse_errors == 0


async def test_reconnects_and_subscribes_again(harness: Harness) -> None:
    async with new_sim() as sim:
        connector = BinanceConnector(make_config(sim.sim_url()))
        async with running(connector, harness):
            await wait_for(lambda: harness.stats.state in ("subscribed", "live"))
            await sim.broadcast(frame(RECORDED[0]).decode())
            await wait_for(lambda: len(harness.marks()) == 1)
            await sim.disconnect_all(code=1001, reason="going away")
            await wait_for(lambda: sim.connect_count == 2 and bool(sim.subscribers) and harness.stats.state in ("subscribed", "live"))
            await sim.broadcast(frame(RECORDED[1]).decode())
            await wait_for(lambda: len(harness.marks()) == 2)
    assert sim.requests == [SUBSCRIBE_BTC, SUBSCRIBE_BTC]
    assert harness.stats.reconnects == 1
    assert "code=1001" in harness.stats.last_error
    assert "disconnected" in harness.states()
    assert [m.mark_price for m in harness.marks()] == [Decimal("68005.80802899"), Decimal("84756.35776087")]


async def test_garbage_is_counted_and_the_connection_stays_up(harness: Harness) -> None:
    async with new_sim() as sim:
        connector = BinanceConnector(make_config(sim.sim_url()))
        async with running(connector, harness):
            await wait_for(lambda: harness.stats.state in ("subscribed", "live"))
            await sim.send_raw(frame("garbage_html.txt").decode())
            await sim.send_raw(b"\x00\x01 not json")
            await sim.send_raw('{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","s":"BTCUSDT","p":"1"}}')
            await sim.broadcast(frame(RECORDED[1]).decode())
            await wait_for(lambda: len(harness.marks()) == 1)
    assert harness.stats.parse_errors == 3
    assert sim.connect_count == 1
    assert harness.stats.reconnects == 0
    assert harness.marks()[0].mark_price == Decimal("84756.35776087")


async def test_rejected_subscription_is_reported(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    async with new_sim() as sim:
        sim.reject.add("btcusdt@markPrice@1s")
        connector = BinanceConnector(make_config(sim.sim_url()))
        with caplog.at_level(logging.ERROR, logger=harness.log.name):
            async with running(connector, harness):
                await wait_for(lambda: harness.stats.sub_rejections >= 1)
    assert harness.stats.rejected == ["btcusdt@markPrice@1s: code 2: Invalid request: invalid stream"]
    assert harness.stats.state != "live"
    assert "subscribed" not in harness.states()
    assert any(r.getMessage() == "subscription rejected" and r.levelno == logging.ERROR for r in caplog.records)


async def test_raw_market_ws_path(harness: Harness) -> None:
    """``/market/ws`` delivers bare events; the session takes them as well as wrapped ones."""
    async with new_sim() as sim:
        connector = BinanceConnector(make_config(sim.url_for("/market/ws")))
        async with running(connector, harness):
            await wait_for(lambda: harness.stats.state in ("subscribed", "live"))
            await sim.broadcast(frame(RECORDED[1]).decode())
            await wait_for(lambda: len(harness.marks()) == 1)
    assert harness.marks()[0].index_price == Decimal("84788.51847826")


async def test_several_symbols_from_demo_frames(harness: Harness) -> None:
    """Each connection gets the streams it subscribed to; demo frames parse to their exact text."""
    async with new_sim(symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT")) as sim:
        connector = BinanceConnector(make_config(sim.sim_url(), symbols=["BTCUSDT", "ETHUSDT"]))
        async with running(connector, harness):
            await wait_for(lambda: harness.stats.state in ("subscribed", "live"))
            sent = list(islice(sim.demo_frames(), 9))
            await sim.replay(sent)
            await wait_for(lambda: len(harness.marks()) == 6)
    wanted = [json.loads(f)["data"] for f in sent if not f.startswith('{"stream":"solusdt')]
    got = harness.marks()
    assert [m.symbol for m in got] == ["BTC-USDT-PERP", "ETH-USDT-PERP"] * 3
    assert [(str(m.mark_price), str(m.index_price), str(m.est_settle_price), str(m.funding_rate)) for m in got] == [
        (d["p"], d["i"], d["P"], d["r"]) for d in wanted
    ]
    assert [m.next_funding_ns for m in got] == [d["T"] * MS for d in wanted]


async def test_blast_delivers_every_frame(harness: Harness) -> None:
    async with new_sim() as sim:
        connector = BinanceConnector(make_config(sim.sim_url()))
        async with running(connector, harness):
            await wait_for(lambda: harness.stats.state in ("subscribed", "live"))
            assert await sim.blast(5000) == 5000
            await wait_for(lambda: len(harness.marks()) == 5000, timeout=20)
    pool, _ = sim.blast_pool()
    assert harness.marks()[4096].mark_price == Decimal(json.loads(pool[0])["data"]["p"])
    assert harness.stats.parse_errors == 0


def test_plugin_registers_the_connector_with_its_simulator() -> None:
    specs: list[ConnectorSpec] = []
    plugin.mdi_register_connectors(specs.append)
    (spec,) = specs
    assert (spec.name, spec.config_type, spec.factory, spec.simulator) == ("binance", BinanceConfig, BinanceConnector, BinanceSimulator)
    (entry,) = [e for e in importlib.metadata.entry_points(group="mdi") if e.name == "binance"]
    assert entry.load() is plugin


async def test_sim_url_is_on_the_market_route() -> None:
    async with new_sim() as sim:
        assert sim.sim_url() == f"ws://127.0.0.1:{sim.port}/market/stream"
