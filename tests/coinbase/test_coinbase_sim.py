"""The Coinbase simulator speaks the venue's protocol, and its demo stream parses cleanly."""

from __future__ import annotations

import json
import re
from typing import Any

import anyio
import pytest
from websockets.asyncio.client import connect

from mdi.events import BBO, Trade

from coinbase_testkit import Harness, fast_config, wait_for
from mdi_coinbase.sim import CoinbaseSimulator, go_time, rfc3339

pytestmark = pytest.mark.anyio


async def recv_json(ws: Any) -> dict[str, Any]:
    with anyio.fail_after(3):
        return dict(json.loads(await ws.recv()))


async def test_subscribe_ack_heartbeat_and_errors() -> None:
    sim = CoinbaseSimulator()
    sim.heartbeat_interval = 0.05
    async with sim, connect(sim.url) as ws:
        await ws.send("not json")
        assert await recv_json(ws) == {"type": "error", "message": "failure to parse request"}
        await ws.send('{"type":"subscribe","channel":"level3","product_ids":["BTC-USD"]}')
        assert (await recv_json(ws))["message"] == "Failed to subscribe"
        await ws.send('{"type":"subscribe","channel":"ticker"}')
        assert (await recv_json(ws))["type"] == "error"
        await ws.send('{"type":"subscribe","channel":"heartbeats"}')
        ack = await recv_json(ws)
        assert (ack["channel"], ack["sequence_num"], ack["events"]) == (
            "subscriptions", 0, [{"subscriptions": {"heartbeats": ["heartbeats"]}}])
        assert "client_id" not in ack
        beat = await recv_json(ws)
        assert (beat["channel"], beat["sequence_num"]) == ("heartbeats", 1)
        event = beat["events"][0]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC m=\+\d+\.\d{9}", event["current_time"])
        await ws.send('{"type":"subscribe","channel":"ticker","product_ids":["ETH-USD"]}')
        frames = [await recv_json(ws) for _ in range(4)]
        ticker = next(f for f in frames if f["channel"] == "ticker")
        assert ticker["events"][0]["type"] == "snapshot"
        assert ticker["events"][0]["tickers"][0]["product_id"] == "ETH-USD"
        acks = [f for f in frames if f["channel"] == "subscriptions"]
        assert acks[0]["events"][0]["subscriptions"] == {"heartbeats": ["heartbeats"], "ticker": ["ETH-USD"]}
        seqs = [f["sequence_num"] for f in frames]
        assert seqs == list(range(2, 6))  # one counter for every channel of the connection
    assert sim.products == ["BTC-USD", "ETH-USD"]


def test_time_formats() -> None:
    assert rfc3339(1_786_309_548_228_568_804) == "2026-08-09T21:05:48.228568804Z"
    assert rfc3339(1_786_309_548_250_000_000) == "2026-08-09T21:05:48.25Z"
    assert rfc3339(1_786_309_548_000_000_000) == "2026-08-09T21:05:48Z"
    assert rfc3339(1_786_309_548_514_318_123, 6) == "2026-08-09T21:05:48.514318Z"
    assert go_time(1_786_309_548_854_840_045, 41_691_260_485_341) == (
        "2026-08-09 21:05:48.854840045 +0000 UTC m=+41691.260485341")


@pytest.mark.parametrize("transport", ["httpx-ws", "picows"])
async def test_demo_stream_parses_cleanly(transport: str) -> None:
    h = Harness(fast_config(symbols=["BTC-USD", "ETH-USD"]), transport)
    sim = CoinbaseSimulator()
    async with h.running(sim):
        await wait_for(lambda: h.stats.state in ("subscribed", "live"))
        async with anyio.create_task_group() as tg:
            tg.start_soon(sim.stream_demo, 400.0)
            await wait_for(lambda: len(h.of(Trade)) >= 10 and len({b.symbol for b in h.of(BBO)}) == 2)
            tg.cancel_scope.cancel()
    assert h.stats.parse_errors == 0 and h.stats.gaps == 0 and h.stats.duplicates == 0
    assert all(b.bid_px < b.ask_px for b in h.of(BBO))
    for symbol in ("BTC-USD", "ETH-USD"):
        ids = [int(t.trade_id) for t in h.of(Trade) if t.symbol == symbol]
        assert ids == sorted(ids)
    assert all(abs(e.ts_recv - (e.ts_exchange or 0)) < 5_000_000_000 for e in h.of(BBO) + h.of(Trade))
