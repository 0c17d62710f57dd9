"""A Bitstamp WebSocket v2 simulator on 127.0.0.1, for the tests and ``mdi demo``.

Speaks the venue's protocol: ``bts:subscribe`` / ``bts:unsubscribe`` per channel, answered with
``bts:subscription_succeeded`` / ``bts:unsubscription_succeeded``, or ``bts:error`` (with no
channel, as Bitstamp does) for an unknown channel or one listed in ``reject``; ``bts:heartbeat``
answered with ``{"status":"success"}``. Data frames given to :meth:`broadcast` go only to the
connections subscribed to their channel. :meth:`request_reconnect` sends
``bts:request_reconnect`` to everyone.

Attribute names avoid the base class's (``received``, ``subscribers``, ``reject``, ...): this
class keeps its own state in ``channels_by_conn`` and ``next_trade_id``.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from decimal import Decimal

import msgspec
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from mdi.api import VenueSimulator, reference_price

from mdi_bitstamp import wire

CHANNEL = re.compile(r"^(live_trades|order_book)_([a-z0-9]+)$")
CHANNEL_FIELD = re.compile(r'"channel":\s*"([^"]*)"')
TICK = Decimal("1")  # Bitstamp quotes BTC/USD in whole dollars
SIZES = ("0.00150000", "0.01000000", "0.00042000", "0.25000000", "0.00003500")


class BitstampSimulator(VenueSimulator):
    venue = "bitstamp"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, pairs: tuple[str, ...] = ("btcusd",)) -> None:
        super().__init__(host, port)
        self.pairs = set(pairs)
        self.channels_by_conn: dict[ServerConnection, set[str]] = {}
        self.next_trade_id = 400_000_001

    # ----- protocol ------------------------------------------------------------------------
    async def on_message(self, conn: ServerConnection, text: str) -> None:
        try:
            request = wire.REQUEST.decode(text)
        except (msgspec.DecodeError, msgspec.ValidationError):
            await self._error(conn, "Incorrect JSON format.")
            return
        if request.event == "bts:heartbeat":
            await self.send(conn, wire.encode({"event": "bts:heartbeat", "channel": "", "data": {"status": "success"}}))
            return
        channel = request.data.channel if request.data else ""
        match = CHANNEL.match(channel)
        if request.event == "bts:subscribe" and match and match.group(2) in self.pairs and channel not in self.reject:
            self.channels_by_conn.setdefault(conn, set()).add(channel)
            self.subscribers.add(conn)
            await self.send(conn, wire.encode({"event": "bts:subscription_succeeded", "channel": channel, "data": {}}))
        elif request.event == "bts:unsubscribe":
            self.channels_by_conn.get(conn, set()).discard(channel)
            await self.send(conn, wire.encode({"event": "bts:unsubscription_succeeded", "channel": channel, "data": {}}))
        else:
            await self._error(conn, "Bad subscription string.")

    async def _error(self, conn: ServerConnection, message: str) -> None:
        await self.send(conn, wire.encode({"event": "bts:error", "channel": "", "data": {"code": None, "message": message}}))

    async def request_reconnect(self) -> None:
        """What Bitstamp sends before maintenance: clients should reconnect."""
        await self.send_raw('{"event":"bts:request_reconnect","channel":"","data":""}')

    async def broadcast(self, text: str | bytes) -> int:
        """Send a data frame to each connection subscribed to its channel."""
        if self.stalled:
            return 0
        body = text.decode() if isinstance(text, bytes) else text
        found = CHANNEL_FIELD.search(body)
        channel = found.group(1) if found else None
        sent = 0
        for conn in list(self.subscribers):
            if channel is not None and channel not in self.channels_by_conn.get(conn, set()):
                continue
            try:
                await conn.send(body)
                sent += 1
            except ConnectionClosed:
                self.subscribers.discard(conn)
                self.channels_by_conn.pop(conn, None)
        return sent

    # ----- demo data -----------------------------------------------------------------------
    def trade_frame(self, pair: str, price: Decimal, size: str, side: int, now_ns: int) -> str:
        """One ``live_trades`` frame in the venue's shape (number and text fields both)."""
        trade_id = self.next_trade_id
        self.next_trade_id += 1
        data = {
            "id": trade_id, "timestamp": str(now_ns // 1_000_000_000), "amount": float(size), "amount_str": size,
            "price": float(price), "price_str": str(price), "type": side, "microtimestamp": str(now_ns // 1000),
            "buy_order_id": 1_900_000_000_000_000 + trade_id, "sell_order_id": 1_900_000_000_000_001 + trade_id,
        }
        return wire.encode({"data": data, "channel": f"live_trades_{pair}", "event": "trade"})

    def book_frame(self, pair: str, bid: Decimal, rng: random.Random, now_ns: int, depth: int = 5) -> str:
        """One ``order_book`` frame: ``depth`` levels a side, best first."""
        bids = [[str(bid - i * TICK), rng.choice(SIZES)] for i in range(depth)]
        asks = [[str(bid + (i + 1) * TICK), rng.choice(SIZES)] for i in range(depth)]
        data = {"timestamp": str(now_ns // 1_000_000_000), "microtimestamp": str(now_ns // 1000), "bids": bids, "asks": asks}
        return wire.encode({"data": data, "channel": f"order_book_{pair}", "event": "data"})

    def demo_frames(self) -> Iterator[str]:
        """Endless book updates and, now and then, a trade, on the price path all simulators share."""
        rng = random.Random(11)
        while True:
            now = time.time_ns()
            bid = reference_price(now, tick=TICK) - TICK
            for pair in sorted(self.pairs):
                yield self.book_frame(pair, bid, rng, now)
                if rng.random() < 0.5:
                    side = rng.choice((0, 1))
                    yield self.trade_frame(pair, bid + TICK if side == 0 else bid, rng.choice(SIZES), side, now)
