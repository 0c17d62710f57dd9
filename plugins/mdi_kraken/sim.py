"""A Kraken Spot v2 simulator: the venue's protocol on 127.0.0.1 for tests, ``mdi demo`` and bench.

It speaks what the connector relies on, in the shapes of recorded live frames: a ``status``
frame on connect (``connection_id`` above 2**63), one subscribe acknowledgement per pair (or a
rejection with ``error`` and no ``result`` when ``"<channel>:<pair>"`` is in ``reject``; either
``BTC/USD`` or ``BTC-USD`` spelling), a ticker snapshot and the last trades as a trade snapshot
after subscribing, ``{"channel":"heartbeat"}`` every ``heartbeat_interval`` seconds to subscribed
connections, ``pong`` for ``ping``. Prices are JSON numbers written from Decimals, so their text is exact.

Extra knobs: ``reject_with_symbol`` (rejections name the pair, else only ``req_id``),
``answer_pings``, ``send_status``; :meth:`publish_quote`, :meth:`publish_trades`,
:meth:`withhold_trades` (trades that happen but are not streamed: a gap REST can repair) and
:meth:`skip_trade_ids` (ids that exist nowhere: a gap REST cannot repair) drive the data.

REST (same port, see :class:`mdi.testing.sim.VenueSimulator`): ``GET /0/public/Trades`` with
``pair`` (``XBTUSD``), ``since`` (ns, or seconds when small) and ``count`` answers from the last
``rest_retention`` trades of the pair, in the venue's shape; a 429 from ``rest_faults`` is
Kraken's ``EGeneral:Too many requests`` (HTTP 200), other statuses plain HTTP errors.
"""

from __future__ import annotations

import json
import random
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Iterator

import msgspec
from websockets.asyncio.server import ServerConnection

from mdi.testing.sim import VenueSimulator, reference_price
from mdi.timeutil import parse_rfc3339_ns

from mdi_kraken.rest import PATH as REST_TRADES_PATH
from mdi_kraken.rest import rest_pair

_encode = msgspec.json.Encoder(decimal_format="number").encode

PRICE_STEP = Decimal("0.1")
QTY_STEP = Decimal("0.00000001")
CONNECTION_ID = 12393906104898154338


def rfc3339_now() -> str:
    """Kraken's timestamp format: RFC 3339, microseconds, ``Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Quote:
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal


# Starting books, from the shape and values of a recorded BTC/USD ticker snapshot.
DEFAULT_QUOTES: dict[str, Quote] = {
    "BTC/USD": Quote(Decimal("65972.8"), Decimal("0.10000000"), Decimal("65972.9"), Decimal("39.67506683")),
}
DEFAULT_FIRST_TRADE_ID = 70635251
REST_RESULT_KEYS = {"XBTUSD": "XXBTZUSD"}  # the answer names the pair the venue's old way


class KrakenSimulator(VenueSimulator):
    venue = "kraken"
    path = "/v2"
    heartbeat_interval: float | None = 1.0

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, heartbeat_interval: float | None = 1.0, seed: int = 7) -> None:
        super().__init__(host, port)
        self.heartbeat_interval = heartbeat_interval
        self.quotes: dict[str, Quote] = {k: Quote(**vars(v)) for k, v in DEFAULT_QUOTES.items()}
        self.next_trade_id: dict[str, int] = {}
        self.history: dict[str, deque[dict[str, Any]]] = {}
        self.snapshot_size = 50
        self.tape: dict[str, deque[dict[str, Any]]] = {}  # what REST can still return, per pair
        self.rest_retention = 10_000
        self.demo_withhold_every = 0  # mdi demo: every Nth trade frame is not streamed (0 = never)
        self.reject_with_symbol = True
        self.answer_pings = True
        self.send_status = True
        self.pings = 0
        self.subscribe_requests: list[dict[str, Any]] = []
        self._rng = random.Random(seed)

    # ----- frames --------------------------------------------------------------------------
    def quote(self, symbol: str) -> Quote:
        if symbol not in self.quotes:
            self.quotes[symbol] = Quote(Decimal("100.0"), Decimal("1.00000000"), Decimal("100.1"), Decimal("1.00000000"))
        return self.quotes[symbol]

    def ticker_frame(self, symbol: str, kind: str = "update", *, timestamp: bool = True) -> str:
        """A ``ticker`` frame for ``symbol``'s current quote (``timestamp`` as 2025+ frames have)."""
        q = self.quote(symbol)
        item: dict[str, Any] = {
            "symbol": symbol, "bid": q.bid, "bid_qty": q.bid_qty, "ask": q.ask, "ask_qty": q.ask_qty,
            "last": q.ask, "volume": Decimal("4216.61829370"), "vwap": q.bid, "low": q.bid - 1000,
            "high": q.ask + 500, "change": Decimal("412.1"), "change_pct": Decimal("0.63"),
        }
        if timestamp:
            item["timestamp"] = rfc3339_now()
        return _encode({"channel": "ticker", "type": kind, "data": [item]}).decode()

    def new_trade(self, symbol: str, side: str, price: Decimal, qty: Decimal, ord_type: str = "limit") -> dict[str, Any]:
        """Record a trade with the pair's next ``trade_id``; it joins the snapshot history."""
        trade_id = self.next_trade_id.get(symbol, DEFAULT_FIRST_TRADE_ID)
        self.next_trade_id[symbol] = trade_id + 1
        trade = {"symbol": symbol, "side": side, "price": price, "qty": qty, "ord_type": ord_type,
                 "trade_id": trade_id, "timestamp": rfc3339_now()}
        self.history.setdefault(symbol, deque(maxlen=self.snapshot_size)).append(trade)
        self.tape.setdefault(symbol, deque(maxlen=self.rest_retention)).append(trade)
        return trade

    @staticmethod
    def trade_frame(trades: list[dict[str, Any]], kind: str = "update") -> str:
        return _encode({"channel": "trade", "type": kind, "data": trades}).decode()

    def skip_trade_ids(self, symbol: str, n: int) -> None:
        """Trades that happen at the venue but are never sent: the client should see a gap."""
        self.next_trade_id[symbol] = self.next_trade_id.get(symbol, DEFAULT_FIRST_TRADE_ID) + n

    def withhold_trades(self, symbol: str, n: int) -> list[dict[str, Any]]:
        """``n`` trades that happen (snapshot history, REST) but are not streamed."""
        q = self.quote(symbol)
        return [self.new_trade(symbol, "buy", q.ask, Decimal("0.00100000")) for _ in range(n)]

    def heartbeat(self) -> str | None:
        return '{"channel":"heartbeat"}'

    def heartbeat_for(self, conn: ServerConnection) -> str | None:
        """Kraken sends heartbeats only to connections with a subscription."""
        return self.heartbeat() if conn in self.subscribers else None

    # ----- driving data --------------------------------------------------------------------
    async def publish_quote(self, symbol: str, bid: str, bid_qty: str, ask: str, ask_qty: str, *, timestamp: bool = True) -> int:
        self.quotes[symbol] = Quote(Decimal(bid), Decimal(bid_qty), Decimal(ask), Decimal(ask_qty))
        return await self.broadcast(self.ticker_frame(symbol, timestamp=timestamp))

    async def publish_trades(self, symbol: str, trades: list[tuple[str, str, str]]) -> int:
        """Broadcast one trade update; ``trades`` are ``(side, price, qty)`` texts."""
        made = [self.new_trade(symbol, side, Decimal(price), Decimal(qty)) for side, price, qty in trades]
        return await self.broadcast(self.trade_frame(made))

    def demo_frames(self) -> Iterator[str]:
        """Endless ticker updates with a slowly walking BTC/USD book, and trades now and then;
        with ``demo_withhold_every``, that many trade frames in one are kept back (a gap)."""
        rng = self._rng
        symbol = "BTC/USD"
        trade_frames = 0
        while True:
            q = self.quote(symbol)
            spread = PRICE_STEP * rng.choice((1, 1, 1, 2, 5))
            q.bid = reference_price(time.time_ns(), tick=PRICE_STEP) + PRICE_STEP * rng.randint(-2, 0)
            q.ask = q.bid + spread
            q.bid_qty = (Decimal(str(rng.uniform(0.0001, 5))).quantize(QTY_STEP))
            q.ask_qty = (Decimal(str(rng.uniform(0.0001, 5))).quantize(QTY_STEP))
            yield self.ticker_frame(symbol)
            if rng.random() < 0.5:
                side = rng.choice(("buy", "sell"))
                price = q.ask if side == "buy" else q.bid
                trades = [self.new_trade(symbol, side, price, Decimal(str(rng.uniform(0.00001, 0.5))).quantize(QTY_STEP),
                                         rng.choice(("limit", "market"))) for _ in range(rng.randint(1, 3))]
                trade_frames += 1
                if not (self.demo_withhold_every and trade_frames % self.demo_withhold_every == 0):
                    yield self.trade_frame(trades)

    def sim_settings(self) -> dict[str, Any]:
        """The demo repairs the gaps it makes (``demo_withhold_every``) from this REST API."""
        self.demo_withhold_every = self.demo_withhold_every or 200
        return {**super().sim_settings(), "rest_url": self.rest_url, "backfill_min_interval": 0.2}

    # ----- REST ----------------------------------------------------------------------------
    def on_rest(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        if path != REST_TRADES_PATH:
            return 404, {"error": ["EGeneral:Unknown method"]}
        pairs = {rest_pair(symbol): symbol for symbol in self.tape}
        pair = query.get("pair", "")
        if pair not in pairs:
            return 200, {"error": ["EQuery:Unknown asset pair"]}
        try:
            since = int(query.get("since", "0") or 0)
            count = min(1000, max(1, int(query.get("count", "1000"))))
        except ValueError:
            return 200, {"error": ["EGeneral:Invalid arguments"]}
        since_ns = since if since > 10**12 else since * 1_000_000_000
        rows = [trade for trade in self.tape[pairs[pair]] if parse_rfc3339_ns(trade["timestamp"]) > since_ns][:count]
        last = str(parse_rfc3339_ns(rows[-1]["timestamp"])) if rows else str(since)
        return 200, {"error": [], "result": {REST_RESULT_KEYS.get(pair, pair): [self._rest_row(t) for t in rows], "last": last}}

    @staticmethod
    def _rest_row(trade: dict[str, Any]) -> list[Any]:
        """``[price, volume, time, side, type, misc, trade_id]``: strings, seconds as a number."""
        seconds = Decimal(parse_rfc3339_ns(trade["timestamp"])) / 1_000_000_000
        return [f"{trade['price']:.5f}", f"{trade['qty']:.8f}", seconds, trade["side"][0],
                trade["ord_type"][0], "", trade["trade_id"]]

    def rest_fault(self, status: int) -> tuple[int, Any]:
        if status == 429:
            return 200, {"error": ["EGeneral:Too many requests"]}
        return super().rest_fault(status)

    # ----- protocol ------------------------------------------------------------------------
    async def on_connect(self, conn: ServerConnection) -> None:
        if self.send_status:
            status = {"channel": "status", "data": [{"api_version": "v2", "connection_id": CONNECTION_ID,
                                                     "system": "online", "version": "2.0.10"}], "type": "update"}
            await self.send(conn, _encode(status))

    async def on_message(self, conn: ServerConnection, text: str) -> None:
        try:
            request = json.loads(text)
        except ValueError:
            await self._reply(conn, {"error": "Malformed request", "success": False})
            return
        if not isinstance(request, dict):
            await self._reply(conn, {"error": "Malformed request", "success": False})
            return
        method = request.get("method")
        req_id = request.get("req_id")
        if method == "subscribe":
            await self._on_subscribe(conn, request)
        elif method == "ping":
            self.pings += 1
            if self.answer_pings:
                await self._reply(conn, {"method": "pong", "req_id": req_id})
        else:
            await self._reply(conn, {"error": "Unsupported event", "method": method, "req_id": req_id, "success": False})

    async def _on_subscribe(self, conn: ServerConnection, request: dict[str, Any]) -> None:
        self.subscribe_requests.append(request)
        params = request.get("params") or {}
        channel = str(params.get("channel"))
        req_id = request.get("req_id")
        for symbol in params.get("symbol") or []:
            if self._refused(channel, symbol):
                reply: dict[str, Any] = {"error": "Currency pair not supported", "method": "subscribe",
                                         "req_id": req_id, "success": False}
                if self.reject_with_symbol:
                    reply["symbol"] = symbol
                await self._reply(conn, reply)
                continue
            result: dict[str, Any] = {"channel": channel, "snapshot": params.get("snapshot", True), "symbol": symbol}
            if channel == "ticker":
                result["event_trigger"] = params.get("event_trigger", "trades")
            await self._reply(conn, {"method": "subscribe", "req_id": req_id, "result": result, "success": True})
            self.subscribers.add(conn)
            await self._send_snapshot(conn, channel, symbol, bool(params.get("snapshot", True)))

    def _refused(self, channel: str, symbol: str) -> bool:
        canonical = symbol.replace("/", "-")
        return f"{channel}:{symbol}" in self.reject or f"{channel}:{canonical}" in self.reject

    async def _send_snapshot(self, conn: ServerConnection, channel: str, symbol: str, wanted: bool) -> None:
        if self.stalled:
            return
        if channel == "ticker":
            await self.send(conn, self.ticker_frame(symbol, "snapshot", timestamp=False))
        elif channel == "trade" and wanted and self.history.get(symbol):
            await self.send(conn, self.trade_frame(list(self.history[symbol]), "snapshot"))

    async def _reply(self, conn: ServerConnection, body: dict[str, Any]) -> None:
        """Method replies carry ``time_in``/``time_out`` like the venue's."""
        now = rfc3339_now()
        await self.send(conn, _encode({**body, "time_in": now, "time_out": now}))
