"""A Coinbase Advanced Trade simulator: the real protocol on 127.0.0.1, for tests and ``mdi demo``.

Per connection, like the venue: one ``sequence_num`` counter from 0 across every channel, the
channels and products subscribed, and a ``heartbeat_counter``. A subscribe request is answered
with the channel's snapshot (``market_trades``: the last trades, newest first, one frame per
product; ``ticker``: the current ticker per product) and then a ``subscriptions`` frame listing
every active channel (cumulative), or with ``{"type":"error",...}`` when a key of the request is
in ``reject`` (``ticker:BTC-USD``, ``market_trades``, ``heartbeats``...). Heartbeats go only to
connections subscribed to ``heartbeats`` and continue while ``stalled``.

Data frames given to :meth:`broadcast` (recorded frames, :meth:`demo_frames`) get each client's
next ``sequence_num`` and go only to clients subscribed to their channel; ``market_trades`` and
``ticker`` frames are remembered for the snapshots sent after a (re)subscribe, which is what
makes de-duplication across reconnects testable. Knobs beyond the base class:
:meth:`skip_sequence` and :meth:`skip_heartbeats` (inject gaps), :meth:`send_heartbeat`
(a chosen counter, e.g. a repeat), ``heartbeat_interval`` (seconds, default 1),
:meth:`trades_frame` (a ``market_trades`` frame of new trades) and :meth:`withhold` (trades that
happen but are not streamed: a gap REST can repair).

REST (same port, see :class:`mdi.testing.sim.VenueSimulator`): the public market trades
endpoint ``GET /api/v3/brokerage/market/products/{product_id}/ticker?limit=&start=&end=``
answers from the last ``rest_retention`` trades of each product (every trade broadcast or
withheld, even with no client connected), newest first, with ``start <= time < end``.
"""

from __future__ import annotations

import random
import re
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import msgspec
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from mdi.testing.sim import VenueSimulator, reference_price
from mdi.timeutil import parse_rfc3339_ns

from mdi_coinbase import wire
from mdi_coinbase.rest import PATH as REST_TICKER_PATH
from mdi_coinbase.session import HEARTBEATS, sub_key

CHANNELS = frozenset({"ticker", "market_trades", HEARTBEATS})
SEQ_FIELD = re.compile(r'"sequence_num":\s*\d+')
REST_TICKER = re.compile("^" + re.escape(REST_TICKER_PATH).replace(re.escape("{product_id}"), "(?P<product>[A-Z0-9]+-[A-Z0-9]+)") + "$")
HEARTBEAT_START = 41691  # Coinbase's counter is the server's uptime in seconds
TICK = Decimal("0.01")
START_PRICES = {"BTC-USD": Decimal("65083.66"), "ETH-USD": Decimal("2512.37")}
SIZES = ("0.002186", "0.00064389", "0.00007299", "0.00100346", "0.0015885", "0.01034361", "0.00000015")

_encode = msgspec.json.encode
_decode_any = msgspec.json.Decoder()


def rfc3339(ns: int, digits: int = 9) -> str:
    """``2026-08-09T21:05:48.228568804Z`` with trailing zeros trimmed, as Coinbase writes it."""
    seconds, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    text = f"{frac:09d}"[:digits].rstrip("0")
    return f"{base}.{text}Z" if text else f"{base}Z"


def go_time(ns: int, uptime_ns: int) -> str:
    """Go ``time.String()`` with the monotonic suffix, as in ``heartbeats.current_time``."""
    seconds, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    text = f"{frac:09d}".rstrip("0")
    up_s, up_frac = divmod(uptime_ns, 1_000_000_000)
    return f"{base}{'.' + text if text else ''} +0000 UTC m=+{up_s}.{up_frac:09d}"


def _newest_last(trade: dict[str, Any]) -> tuple[int, int, str]:
    trade_id = str(trade.get("trade_id", ""))
    return parse_rfc3339_ns(str(trade.get("time", "1970-01-01T00:00:00Z"))), len(trade_id), trade_id


@dataclass
class _Client:
    """What the venue keeps per connection."""

    seq: int = 0
    channels: dict[str, list[str]] = field(default_factory=dict)
    heartbeat: int = HEARTBEAT_START


@dataclass
class _Book:
    """A slowly moving market for one product: best bid/ask one tick apart, sequential trade ids."""

    product: str
    bid: Decimal
    next_trade_id: int = 1068572091

    def step(self, rng: random.Random) -> None:
        self.bid = max(TICK, self.bid + TICK * rng.choice((-3, -1, -1, 0, 0, 0, 1, 1, 3)))

    def ticker(self, rng: random.Random) -> dict[str, Any]:
        return {
            "type": "ticker",
            "product_id": self.product,
            "price": str(self.bid + TICK),
            "volume_24_h": "2867.54532609",
            "low_24_h": str(self.bid - 400),
            "high_24_h": str(self.bid + 200),
            "low_52_w": "57717.55",
            "high_52_w": "126296",
            "price_percent_chg_24_h": "0.09601107287722",
            "best_bid": str(self.bid),
            "best_ask": str(self.bid + TICK),
            "best_bid_quantity": rng.choice(SIZES),
            "best_ask_quantity": rng.choice(SIZES),
        }

    def trades(self, rng: random.Random, count: int, now_ns: int) -> list[dict[str, Any]]:
        """``count`` trades at the touch, newest first (the venue's order)."""
        out: list[dict[str, Any]] = []
        for i in range(count):
            buy_taker = rng.random() < 0.5  # the wire side is the maker's: a taker buy prints SELL
            out.append(
                {
                    "product_id": self.product,
                    "trade_id": str(self.next_trade_id),
                    "price": str(self.bid + TICK if buy_taker else self.bid),
                    "size": rng.choice(SIZES),
                    "time": rfc3339(now_ns - (count - i) * 1000, 6),
                    "side": "SELL" if buy_taker else "BUY",
                }
            )
            self.next_trade_id += 1
        out.reverse()
        return out


class CoinbaseSimulator(VenueSimulator):
    """See the module docstring; ``products`` seeds :meth:`demo_frames` (subscriptions add more)."""

    venue = "coinbase"
    heartbeat_interval: float | None = 1.0
    snapshot_trades = 100

    def __init__(self, host: str = "127.0.0.1", port: int = 0, products: tuple[str, ...] = ("BTC-USD",)) -> None:
        super().__init__(host, port)
        self.products: list[str] = list(products)
        self.clients: dict[ServerConnection, _Client] = {}
        self.trade_history: dict[str, deque[dict[str, Any]]] = {}
        self.tape: dict[str, deque[dict[str, Any]]] = {}  # what REST can still return, per product
        self.rest_retention = 10_000
        self.demo_withhold_every = 0  # mdi demo: every Nth trade frame is not streamed (0 = never)
        self.last_ticker: dict[str, dict[str, Any]] = {}
        self._books: dict[str, _Book] = {}
        self._rng = random.Random(20260809)
        self._started_ns = time.monotonic_ns() - HEARTBEAT_START * 1_000_000_000

    # ----- protocol ------------------------------------------------------------------------
    async def on_connect(self, conn: ServerConnection) -> None:
        for gone in [c for c in self.clients if c not in self.connections]:
            del self.clients[gone]
        self.clients[conn] = _Client()

    async def on_message(self, conn: ServerConnection, text: str) -> None:
        client = self.clients.setdefault(conn, _Client())
        try:
            request = wire.SUBSCRIBE_REQUEST.decode(text)
        except (msgspec.DecodeError, msgspec.ValidationError):
            await self._error(conn, "failure to parse request", "")
            return
        if request.type == "subscribe":
            await self._subscribe(conn, client, request)
        elif request.type == "unsubscribe":
            client.channels.pop(request.channel, None)
            await self._ack(conn, client)
        else:
            await self._error(conn, "unknown message type", request.type)

    async def _subscribe(self, conn: ServerConnection, client: _Client, request: wire.SubscribeRequest) -> None:
        channel = request.channel
        products = [HEARTBEATS] if channel == HEARTBEATS else list(request.product_ids or [])
        if channel not in CHANNELS or not products:
            await self._error(conn, "Failed to subscribe", f"unsupported channel or no product_ids: {channel!r}")
            return
        keys = {sub_key(channel, None)} if channel == HEARTBEATS else {sub_key(channel, p) for p in products}
        if channel in self.reject or keys & self.reject:
            await self._error(conn, "Failed to subscribe", ", ".join(sorted(keys)))
            return
        for product in products:
            if channel != HEARTBEATS and product not in self.products:
                self.products.append(product)
            await self._snapshot(conn, client, channel, product)
        client.channels[channel] = sorted(set(client.channels.get(channel, [])) | set(products))
        self.subscribers.add(conn)
        await self._ack(conn, client)

    async def _snapshot(self, conn: ServerConnection, client: _Client, channel: str, product: str) -> None:
        """What Coinbase sends first after a subscribe: the last trades, or the current ticker
        (nothing while ``stalled``: a stalled venue sends heartbeats and acks only)."""
        if self.stalled:
            return
        if channel == "market_trades":
            trades = list(self.trade_history.get(product, ()))
            await self.send(conn, self._frame(client, channel, [{"type": "snapshot", "trades": trades}]))
        elif channel == "ticker":
            ticker = self.last_ticker.get(product) or self._book(product).ticker(self._rng)
            await self.send(conn, self._frame(client, channel, [{"type": "snapshot", "tickers": [ticker]}]))

    async def _ack(self, conn: ServerConnection, client: _Client) -> None:
        await self.send(conn, self._frame(client, "subscriptions", [{"subscriptions": dict(client.channels)}]))

    async def _error(self, conn: ServerConnection, message: str, reason: str) -> None:
        body = {"type": "error", "message": message}
        if reason:
            body["reason"] = reason
        await self.send(conn, _encode(body).decode())

    def _frame(self, client: _Client, channel: str, events: list[Any], now_ns: int | None = None) -> str:
        """One frame in the 2026 wire shape (no ``client_id``), numbered for this connection."""
        body = {
            "channel": channel,
            "timestamp": rfc3339(now_ns or time.time_ns()),
            "sequence_num": client.seq,
            "events": events,
        }
        client.seq += 1
        return _encode(body).decode()

    # ----- heartbeats ----------------------------------------------------------------------
    def heartbeat_for(self, conn: ServerConnection) -> str | None:
        client = self.clients.get(conn)
        if client is None or HEARTBEATS not in client.channels:
            return None
        counter = client.heartbeat
        client.heartbeat += 1
        return self._heartbeat_frame(client, counter)

    def _heartbeat_frame(self, client: _Client, counter: int) -> str:
        now = time.time_ns()
        event = {"current_time": go_time(now, time.monotonic_ns() - self._started_ns), "heartbeat_counter": counter}
        return self._frame(client, HEARTBEATS, [event], now)

    async def send_heartbeat(self, counter: int | None = None) -> None:
        """A heartbeat now to every heartbeat subscriber; ``counter`` repeats or jumps on purpose."""
        for conn, client in list(self.clients.items()):
            if HEARTBEATS in client.channels:
                value = client.heartbeat - 1 if counter is None else counter
                await self.send(conn, self._heartbeat_frame(client, value))

    def skip_heartbeats(self, n: int) -> None:
        """The next heartbeat of every connection jumps ``n`` counters (a gap of ``n``)."""
        for client in self.clients.values():
            client.heartbeat += n

    def skip_sequence(self, n: int) -> None:
        """The next frame of every connection jumps ``n`` sequence numbers (a gap of ``n``)."""
        for client in self.clients.values():
            client.seq += n

    # ----- data ----------------------------------------------------------------------------
    async def broadcast(self, text: str | bytes) -> int:
        """Send a data frame to each client subscribed to its channel, numbered per client."""
        if self.stalled:
            return 0
        if isinstance(text, bytes):
            text = text.decode()
        channel = self._remember(text)
        sent = 0
        for conn in list(self.subscribers):
            client = self.clients.get(conn)
            if client is None or (channel is not None and channel not in client.channels):
                continue
            stamped = SEQ_FIELD.sub(f'"sequence_num":{client.seq}', text, count=1)
            client.seq += 1  # before the await: a heartbeat sent meanwhile takes the next number
            try:
                await conn.send(stamped)
            except ConnectionClosed:
                self.subscribers.discard(conn)
                continue
            sent += 1
        return sent

    def _remember(self, text: str) -> str | None:
        """Keep the latest ticker and trades of a data frame for later snapshots; its channel."""
        try:
            body = _decode_any.decode(text)
        except msgspec.DecodeError:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("channel"), str):
            return None
        channel: str = body["channel"]
        try:
            self._remember_events(channel, body.get("events") or [])
        except (KeyError, TypeError, AttributeError, ValueError):
            pass  # a deliberately odd frame is still sent; it just is not remembered
        return channel

    def _remember_events(self, channel: str, events: list[Any]) -> None:
        for event in events:
            if channel == "ticker":
                for ticker in event.get("tickers") or []:
                    self.last_ticker[ticker["product_id"]] = ticker
            elif channel == "market_trades":
                for trade in sorted(event.get("trades") or [], key=_newest_last):
                    history = self.trade_history.setdefault(trade["product_id"], deque(maxlen=self.snapshot_trades))
                    history.appendleft(trade)
                    self.tape.setdefault(trade["product_id"], deque(maxlen=self.rest_retention)).append(trade)

    def trades_frame(self, product: str, count: int) -> str:
        """A ``market_trades`` update with ``count`` new trades of ``product`` (next trade ids)."""
        now = time.time_ns()
        trades = self._book(product).trades(self._rng, count, now)
        return self._frame(_Client(), "market_trades", [{"type": "update", "trades": trades}], now)

    def withhold(self, text: str) -> None:
        """A data frame that happens at the venue (snapshots, REST) but is sent to nobody."""
        self._remember(text)

    # ----- REST ----------------------------------------------------------------------------
    def on_rest(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        match = REST_TICKER.match(path)
        if match is None:
            return 404, {"error": "NOT_FOUND", "message": f"no route {path}"}
        product = match["product"]
        try:
            limit = int(query["limit"])
            start = int(query.get("start") or 0) * 1_000_000_000
            end = int(query.get("end") or 2**40) * 1_000_000_000
        except (KeyError, ValueError):
            return 400, {"error": "INVALID_ARGUMENT", "message": "limit is required; start and end are UNIX seconds"}
        window = [t for t in self.tape.get(product, ()) if start <= parse_rfc3339_ns(t["time"]) < end]
        book = self._book(product)
        newest_first = sorted(window, key=_newest_last, reverse=True)[:max(1, limit)]
        return 200, {"trades": [{**t, "exchange": "COINBASE"} for t in newest_first],
                     "best_bid": str(book.bid), "best_ask": str(book.bid + TICK)}

    def sim_settings(self) -> dict[str, Any]:
        """The demo repairs the gaps it makes (``demo_withhold_every``) from this REST API."""
        self.demo_withhold_every = self.demo_withhold_every or 200
        return {**super().sim_settings(), "rest_url": self.rest_url}

    def _book(self, product: str) -> _Book:
        book = self._books.get(product)
        if book is None:
            book = self._books[product] = _Book(product, START_PRICES.get(product, Decimal("100.00")))
        return book

    def demo_frames(self) -> Iterator[str]:
        """Endless ticker updates and, now and then, a few trades, per product, timestamped now."""
        rng = random.Random(7)
        template = _Client()
        trade_frames = 0
        while True:
            for product in list(self.products):
                book = self._book(product)
                now = time.time_ns()
                if product == "BTC-USD":  # follow the price path every simulator shares
                    book.bid = reference_price(now, tick=TICK) - TICK * rng.choice((0, 1, 2))
                else:
                    book.step(rng)
                yield self._frame(template, "ticker", [{"type": "update", "tickers": [book.ticker(rng)]}], now)
                if rng.random() < 0.4:
                    trades = book.trades(rng, rng.choice((1, 1, 1, 2, 3)), now)
                    text = self._frame(template, "market_trades", [{"type": "update", "trades": trades}], now)
                    trade_frames += 1
                    if self.demo_withhold_every and trade_frames % self.demo_withhold_every == 0:
                        self.withhold(text)
                    else:
                        yield text
