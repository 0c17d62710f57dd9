"""Coinbase Advanced Trade public market trades, read for gap repair (see :mod:`mdi.backfill`).

``GET /api/v3/brokerage/market/products/{product_id}/ticker?limit=&start=&end=`` (public, no
key): ``limit`` trades (newest first) with ``start <= time < end``, both UNIX seconds. Answer::

    {"trades": [{"trade_id": "1131400801", "product_id": "BTC-USD", "price": "65083.67",
                 "size": "0.002186", "time": "2026-08-09T21:05:48.228568Z", "side": "SELL",
                 "exchange": "..."}, ...], "best_bid": "65083.66", "best_ask": "65083.67"}

Prices and sizes are strings (kept exact); ``trade_id`` is the same per-product sequence as the
WebSocket's ``market_trades``. ``side`` is read like the WebSocket's (``wire_side_is_maker``).
The window starts at the second of the last trade before the hole and ends after the first trade
past it; a full page moves ``end`` back to its oldest trade's second and asks again. Public
endpoints allow 10 requests per second per IP; a 429 is retried with backoff.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from mdi.backfill import NS, Hole, Page, VenueError, ceil_seconds
from mdi.events import Side, Trade
from mdi.timeutil import parse_rfc3339_ns

PATH = "/api/v3/brokerage/market/products/{product_id}/ticker"
PAGE_SIZE = 1000


class RestTrade(msgspec.Struct, frozen=True):
    trade_id: str
    product_id: str
    price: Decimal
    size: Decimal
    time: str
    side: str = ""


class TickerAnswer(msgspec.Struct, frozen=True):
    trades: list[RestTrade] = []
    best_bid: str | None = None
    best_ask: str | None = None


class ErrorAnswer(msgspec.Struct, frozen=True):
    error: str = ""
    message: str = ""


ANSWER = msgspec.json.Decoder(TickerAnswer)
ERROR = msgspec.json.Decoder(ErrorAnswer)


class CoinbaseRest:
    """The :class:`mdi.backfill.RestSource` for Coinbase Advanced Trade; the cursor is ``end``."""

    def __init__(self, venue: str, sides: dict[str, Side], page_size: int = PAGE_SIZE) -> None:
        self.venue = venue
        self.sides = sides
        self.page_size = page_size

    def first_cursor(self, hole: Hole) -> object:
        return ceil_seconds(hole.before_ns) + 1

    def request(self, hole: Hole, cursor: object) -> tuple[str, dict[str, str]]:
        start = hole.after_ns // NS
        return PATH.format(product_id=hole.symbol), {"limit": str(self.page_size), "start": str(start), "end": str(cursor)}

    def parse(self, hole: Hole, cursor: object, status: int, body: bytes, recv_ns: int) -> Page:
        if status != 200:
            try:
                err = ERROR.decode(body)
                text = err.message or err.error or body[:200].decode(errors="replace")
            except msgspec.DecodeError:
                text = body[:200].decode(errors="replace")
            raise VenueError(f"HTTP {status}: {text}")
        answer = ANSWER.decode(body)
        trades = [self._trade(t, recv_ns) for t in answer.trades if t.product_id == hole.symbol]
        return Page(trades, self._next(hole, cursor, trades))

    def _next(self, hole: Hole, cursor: object, trades: list[Trade]) -> object | None:
        """A full page may hide older trades: move ``end`` back to its oldest trade's second."""
        if len(trades) < self.page_size:
            return None
        oldest = min(trades, key=lambda t: int(t.trade_id))
        if int(oldest.trade_id) <= hole.after_id + 1:
            return None
        end = ceil_seconds(oldest.ts_exchange or 0)
        return end if isinstance(cursor, int) and end < cursor else None

    def _trade(self, t: RestTrade, recv_ns: int) -> Trade:
        return Trade(venue=self.venue, symbol=t.product_id, ts_recv=recv_ns, ts_exchange=parse_rfc3339_ns(t.time),
                     trade_id=t.trade_id, price=t.price, size=t.size, side=self.sides.get(t.side, "unknown"), source="rest")
