"""Kraken's public ``GET /0/public/Trades``, read for gap repair (see :mod:`mdi.backfill`).

Request: ``pair`` (REST spelling: ``XBTUSD`` for ``BTC/USD``), ``since`` and ``count`` (1-1000).
``since`` is sent as the nanosecond form the API itself returns in ``last`` (the time of the
last trade before the hole, minus 1 ns), so the first page starts with that trade; later pages
use the previous answer's ``last``. Answer::

    {"error": [], "result": {"XXBTZUSD": [[price, volume, time, side, type, misc, trade_id], ...],
                             "last": "1688671969993150842"}}

prices and volumes are strings (kept exact), ``time`` a JSON number of seconds (read as its
text, exact to the digits sent), ``side`` ``b``/``s`` (the taker's, as on the WebSocket),
``trade_id`` an integer: the same per-pair sequence as the WebSocket's ``trade_id``. Errors come
with HTTP 200 in ``error``: ``EGeneral:Too many requests``/``EAPI:Rate limit exceeded`` (rate
limited, retried), ``EService:Unavailable``/``EService:Busy`` (retried), anything else final.
Kraken allows about one public request per second per IP and pair (``backfill_min_interval``).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from mdi.backfill import NS, Hole, Page, RateLimited, VenueError
from mdi.events import Side, Trade

PATH = "/0/public/Trades"
PAGE_SIZE = 1000
RATE_LIMITED = frozenset({"EGeneral:Too many requests", "EAPI:Rate limit exceeded"})
RETRYABLE = frozenset({"EService:Unavailable", "EService:Busy"})
SIDES: dict[str, Side] = {"b": "buy", "s": "sell"}

# price, volume, time, side, order type, misc, trade_id (the 7th element since 2023)
Row = tuple[Decimal, Decimal, Decimal, str, str, str, int]


class TradesAnswer(msgspec.Struct, frozen=True):
    error: list[str] = []
    result: dict[str, msgspec.Raw] = {}


ANSWER = msgspec.json.Decoder(TradesAnswer)
ROWS = msgspec.json.Decoder(list[Row])
LAST = msgspec.json.Decoder(str | int)


def rest_pair(symbol: str) -> str:
    """``BTC/USD`` -> ``XBTUSD``: Kraken's REST pair names use ``XBT`` and no slash."""
    base, _, quote = symbol.partition("/")
    return ("XBT" if base == "BTC" else base) + quote


class KrakenRest:
    """The :class:`mdi.backfill.RestSource` for Kraken; ``pairs`` maps canonical symbols to
    configured pair names (``BTC-USD`` -> ``BTC/USD``)."""

    def __init__(self, venue: str, pairs: dict[str, str], page_size: int = PAGE_SIZE) -> None:
        self.venue = venue
        self.pairs = pairs
        self.page_size = page_size

    def first_cursor(self, hole: Hole) -> object:
        return str(max(0, hole.after_ns - 1))

    def request(self, hole: Hole, cursor: object) -> tuple[str, dict[str, str]]:
        pair = rest_pair(self.pairs.get(hole.symbol, hole.symbol))
        return PATH, {"pair": pair, "since": str(cursor), "count": str(self.page_size)}

    def parse(self, hole: Hole, cursor: object, status: int, body: bytes, recv_ns: int) -> Page:
        if status != 200:
            raise VenueError(f"HTTP {status}: {body[:200]!r}")
        answer = ANSWER.decode(body)
        if answer.error:
            text = "; ".join(answer.error)
            if RATE_LIMITED & set(answer.error):
                raise RateLimited(text)
            raise VenueError(text, retryable=bool(RETRYABLE & set(answer.error)))
        rows: list[Row] = []
        last: object | None = None
        for key, raw in answer.result.items():
            if key == "last":
                last = str(LAST.decode(raw))
            else:
                rows.extend(ROWS.decode(raw))
        trades = [self._trade(hole.symbol, row, recv_ns) for row in rows]
        return Page(trades, self._next(hole, cursor, rows, last))

    @staticmethod
    def _next(hole: Hole, cursor: object, rows: list[Row], last: object | None) -> object | None:
        """Ask again from ``last`` unless the page was empty, reached the hole's end or stalled."""
        if not rows or last is None or last == cursor:
            return None
        if max(row[6] for row in rows) >= hole.before_id - 1:
            return None
        return last

    def _trade(self, symbol: str, row: Row, recv_ns: int) -> Trade:
        price, volume, time_s, side, _type, _misc, trade_id = row
        return Trade(venue=self.venue, symbol=symbol, ts_recv=recv_ns, ts_exchange=int(time_s * NS),
                     trade_id=str(trade_id), price=price, size=volume, side=SIDES.get(side, "unknown"), source="rest")
