"""The Bitstamp connector against its simulator over real WebSockets, with both transports,
and in the real mdi graph (router, Parquet sink) with the lake read back."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import pytest

from mdi.api import BBO, ConnectionStatus, Trade
from mdi.testing.harness import ConnectorHarness, read_frames

from mdi_bitstamp.config import BitstampConfig
from mdi_bitstamp.connector import BitstampConnector
from mdi_bitstamp.sim import BitstampSimulator

pytestmark = pytest.mark.anyio

FRAMES = read_frames(Path(__file__).parent / "frames" / "session_btcusd.jsonl")
DATA = FRAMES[2:5]  # a book and two trades


@pytest.fixture(params=["httpx-ws", "picows"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def fast(**overrides: object) -> BitstampConfig:
    settings: dict[str, object] = {"backoff_initial": 0.05, "backoff_max": 0.2, "ack_timeout": 5.0, "stale_after": 10.0}
    return BitstampConfig(**{**settings, **overrides})  # type: ignore[arg-type]


async def test_streams_recorded_frames_exactly(transport: str, mdi_simulator: BitstampSimulator) -> None:
    h = ConnectorHarness(BitstampConnector(fast()), transport=transport)
    async with h.running(mdi_simulator):
        await h.wait_for(lambda: h.stats.state in ("subscribed", "live"))
        assert await mdi_simulator.replay(DATA) == 3
        await h.wait_for(lambda: len(h.of(Trade)) == 2 and len(h.of(BBO)) == 1)
    assert mdi_simulator.received[:2] == [
        '{"event":"bts:subscribe","data":{"channel":"live_trades_btcusd"}}',
        '{"event":"bts:subscribe","data":{"channel":"order_book_btcusd"}}',
    ]
    assert [t.price for t in h.of(Trade)] == [Decimal("97413"), Decimal("97412.1")]
    assert h.stats.parse_errors == 0


async def test_request_reconnect_resubscribes_and_drops_repeated_trades(mdi_simulator: BitstampSimulator) -> None:
    h = ConnectorHarness(BitstampConnector(fast()))
    async with h.running(mdi_simulator):
        await h.wait_for(lambda: h.stats.state in ("subscribed", "live"))
        await mdi_simulator.replay(DATA)
        await h.wait_for(lambda: len(h.of(Trade)) == 2)
        await mdi_simulator.request_reconnect()
        await mdi_simulator.wait_connected(2)
        await h.wait_for(lambda: [e.state for e in h.of(ConnectionStatus)].count("subscribed") == 2)
        await mdi_simulator.replay(DATA)  # the same trades again after the reconnect
        await h.wait_for(lambda: h.stats.duplicates == 2)
    assert [t.trade_id for t in h.of(Trade)] == ["412345678", "412345679"]
    assert h.stats.reconnects >= 1 and "request_reconnect" in h.stats.last_error


async def test_rejected_channel_is_reported_and_the_rest_streams(mdi_simulator: BitstampSimulator) -> None:
    mdi_simulator.reject.add("order_book_btcusd")
    h = ConnectorHarness(BitstampConnector(fast()))
    async with h.running(mdi_simulator):
        await h.wait_for(lambda: h.stats.sub_rejections >= 1 and h.stats.state in ("subscribed", "live"))
        await mdi_simulator.replay(DATA)
        await h.wait_for(lambda: len(h.of(Trade)) == 2)
    assert h.of(BBO) == []
    assert h.stats.rejected and h.stats.rejected[0].endswith("Bad subscription string.")


async def test_trades_and_top_of_book_reach_the_lake(
    mdi_simulator: BitstampSimulator, mdi_lake: Path, mdi_run_graph: Callable[..., Any],
    mdi_read_lake: Callable[[str], list[dict[str, Any]]],
) -> None:
    config = f"""
[connectors.bitstamp]
url = "{mdi_simulator.sim_url()}"
[sinks.parquet]
root = "{mdi_lake}"
flush_interval = 0.2
[http]
enabled = false
"""
    async with mdi_run_graph(config) as run:
        await run.wait_for(lambda: run.health()["venues"]["bitstamp"]["state"] in ("subscribed", "live"))
        await mdi_simulator.replay(DATA)
        await run.wait_for(lambda: len(mdi_read_lake("trade")) == 2 and len(mdi_read_lake("bbo")) == 1)
    trades = mdi_read_lake("trade")
    assert [(r["venue"], r["trade_id"], r["price"], r["side"]) for r in trades] == [
        ("bitstamp", "412345678", Decimal("97413"), "buy"), ("bitstamp", "412345679", Decimal("97412.1"), "sell"),
    ]
    assert trades[0]["ts_exchange"] == 1_791_969_667_402_118_000
    (bbo,) = mdi_read_lake("bbo")
    assert (bbo["bid_px"], bbo["ask_px"]) == (Decimal("97412"), Decimal("97413"))
