"""The simulator speaks Deribit's protocol: checked with a plain WebSocket client and the parser."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from itertools import islice
from typing import Any

import anyio
import pytest
from deribit_testkit import session
from mdi.events import EventBase, OptionTicker, VolIndex
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from mdi_deribit.instruments import parse_option_name
from mdi_deribit.sim import DeribitSimulator


async def call(ws: ClientConnection, request_id: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    await ws.send(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}))
    while True:
        reply = json.loads(await ws.recv())
        if reply.get("id") == request_id:
            return reply  # type: ignore[no-any-return]


@pytest.mark.anyio
async def test_a_client_that_ignores_test_requests_is_closed_with_4000() -> None:
    async with DeribitSimulator() as sim:
        sim.heartbeat_every, sim.test_timeout = 0.05, 0.2
        async with connect(sim.url) as ws:
            assert (await call(ws, 1, "public/set_heartbeat", {"interval": 10}))["result"] == "ok"
            assert json.loads(await ws.recv()) == {"params": {"type": "test_request"}, "method": "heartbeat", "jsonrpc": "2.0"}
            with anyio.fail_after(2), pytest.raises(ConnectionClosed) as info:
                while True:
                    await ws.recv()
        assert info.value.rcvd is not None and (info.value.rcvd.code, info.value.rcvd.reason) == (4000, "heartbeat close")
        assert sim.heartbeat_closes == 1


@pytest.mark.anyio
async def test_a_client_that_answers_stays_and_no_heartbeat_before_set_heartbeat() -> None:
    async with DeribitSimulator() as sim:
        sim.heartbeat_every, sim.test_timeout = 0.05, 0.2
        async with connect(sim.url) as ws:
            with anyio.move_on_after(0.2):
                assert await ws.recv() is None  # nothing may arrive before set_heartbeat
            await call(ws, 1, "public/set_heartbeat", {"interval": 10})
            for n in range(4):
                assert json.loads(await ws.recv())["params"]["type"] == "test_request"
                assert (await call(ws, 10 + n, "public/test"))["result"] == {"version": "1.2.26"}
        assert sim.heartbeat_closes == 0 and sim.requests["public/test"] == 4


@pytest.mark.anyio
async def test_requests_and_errors_in_deribit_shapes() -> None:
    async with DeribitSimulator() as sim:
        name = sorted(o.name for o in sim.market.listed(int(time.time() * 1000)))[0]
        async with connect(sim.url) as ws:
            await ws.send("{not json")
            bad = json.loads(await ws.recv())
            assert "id" not in bad and bad["error"] == {"code": 11050, "message": "bad_request", "data": "invalid json"}
            raw = await call(ws, 2, "public/subscribe", {"channels": [f"ticker.{name}.raw"]})
            assert raw["error"] == {"code": 13778, "message": "raw_subscriptions_not_available_for_unauthorized"}
            unknown = await call(ws, 3, "public/subscribe", {"channels": ["ticker.BTC-1JAN20-1-C.100ms"]})
            assert unknown["result"] == [] and "error" not in unknown
            channels = [f"ticker.{name}.100ms", "deribit_volatility_index.btc_usd"]
            ok = await call(ws, 4, "public/subscribe", {"channels": channels})
            assert ok["result"] == sorted(channels) != channels and ok["usOut"] >= ok["usIn"]
            gone = await call(ws, 5, "public/unsubscribe", {"channels": [channels[0], "ticker.X.100ms"]})
            assert gone["result"] == [channels[0]]
            assert (await call(ws, 6, "public/hello"))["error"] == {"code": -32601, "message": "Method not found"}
            assert (await call(ws, 7, "public/set_heartbeat", {"interval": 5}))["error"]["code"] == -32602
            index = await call(ws, 8, "public/get_index_price", {"index_name": "btc_usd"})
            assert index["result"]["index_price"] == round(sim.market.index_price, 2)
            sim.subscribe_error = (10028, "too_many_requests")
            limited = await call(ws, 9, "public/subscribe", {"channels": channels})
            assert limited["error"] == {"code": 10028, "message": "too_many_requests"}
            assert "result" in await call(ws, 10, "public/subscribe", {"channels": channels})


@pytest.mark.anyio
async def test_instruments_expire_in_the_future_at_0800_utc() -> None:
    async with DeribitSimulator() as sim:
        async with connect(sim.url) as ws:
            reply = await call(ws, 1, "public/get_instruments", {"currency": "BTC", "kind": "option", "expired": False})
            futures = await call(ws, 2, "public/get_instruments", {"currency": "BTC", "kind": "future"})
    listed = reply["result"]
    assert len(listed) == 390 and futures["result"] == []
    now_ms = time.time() * 1000
    for inst in listed:
        meta = parse_option_name(inst["instrument_name"])
        assert meta is not None and inst["expiration_timestamp"] > now_ms
        assert meta.expiry_ns == inst["expiration_timestamp"] * 1_000_000
        assert meta.strike == Decimal(str(inst["strike"])) and inst["kind"] == "option"
        assert (meta.option_type == "C") == (inst["option_type"] == "call")
    assert len({i["expiration_timestamp"] for i in listed}) == 10


@pytest.mark.anyio
async def test_data_goes_only_to_clients_subscribed_to_the_channel() -> None:
    async with DeribitSimulator() as sim:
        a_name, b_name = sorted(sim.market.options)[:2]
        async with connect(sim.url) as a, connect(sim.url) as b:
            await call(a, 1, "public/subscribe", {"channels": [f"ticker.{a_name}.100ms"]})
            await call(b, 1, "public/subscribe", {"channels": [f"ticker.{b_name}.agg2", "deribit_volatility_index.btc_usd"]})
            assert await sim.publish_round() == 3
            got_a = json.loads(await a.recv())["params"]["channel"]
            got_b = {json.loads(await b.recv())["params"]["channel"] for _ in range(2)}
            sim.stalled = True
            assert await sim.publish_round() == 0
    assert got_a == f"ticker.{a_name}.100ms"
    assert got_b == {f"ticker.{b_name}.agg2", "deribit_volatility_index.btc_usd"}


def test_every_generated_frame_parses_into_a_plausible_ticker() -> None:
    sim = DeribitSimulator()
    s, h = session()
    now_ms = int(time.time() * 1000)
    out: list[EventBase] = []
    for name in sim.market.options:
        assert s.on_frame(sim.frame(f"ticker.{name}.100ms", now_ms), 1, out) is True
    assert len(out) == 390 and h.stats.parse_errors == 0
    tickers = [e for e in out if isinstance(e, OptionTicker)]
    for t in tickers:
        assert t.mark_iv is not None and Decimal(20) <= t.mark_iv <= Decimal(300)
        assert t.best_ask_price is not None and t.mark_price is not None and t.index_price is not None
        if t.best_bid_price is not None:
            assert t.best_bid_price <= t.mark_price <= t.best_ask_price
        assert t.greeks.delta is not None and Decimal(-1) <= t.greeks.delta <= Decimal(1)
        # a call's delta is >= 0, a put's <= 0 (deep out-of-the-money ones round to 0.0 / -0.0)
        assert t.greeks.delta >= 0 if t.option_type == "C" else t.greeks.delta <= 0
    assert any(t.best_bid_price is None for t in tickers)  # deep wings have an empty bid
    assert sum(t.best_bid_price is not None for t in tickers) > 200


def test_expired_option_frame_is_closed_and_parses() -> None:
    sim = DeribitSimulator()
    s, _ = session()
    name = next(iter(sim.market.options))
    sim.market.options[name].expiry_ms = int(time.time() * 1000) - 1
    text = sim.frame(f"ticker.{name}.100ms", int(time.time() * 1000))
    data = json.loads(text)["params"]["data"]
    assert data["state"] == "closed" and data["estimated_delivery_price"] == "expired"
    out: list[EventBase] = []
    s.on_frame(text, 1, out)
    assert isinstance(out[0], OptionTicker) and out[0].best_bid_price is None and out[0].ask_iv is None


def test_demo_frames_are_endless_current_and_moving() -> None:
    sim = DeribitSimulator()
    s, _ = session()
    before = time.time_ns() // 1_000_000 * 1_000_000
    out: list[EventBase] = []
    for text in islice(sim.demo_frames(), 200):
        s.on_frame(text, 1, out)
    assert len(out) == 200 and all(isinstance(e, VolIndex) for e in out)  # nobody subscribed: DVOL only
    assert all(e.ts_exchange is not None and e.ts_exchange >= before for e in out)
    assert len({e.value for e in out if isinstance(e, VolIndex)}) > 5
