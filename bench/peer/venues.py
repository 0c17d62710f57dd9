"""What each venue's blast looks like: the frames both recorders get, and how to answer them.

The blast server (:mod:`bench.peer.server`) is venue-agnostic: a :class:`Venue` answers the
client's requests (subscriptions, acks) and, once the client has subscribed, builds the blast:
``events`` market-data events as complete WebSocket text frames, numbered where the venue
numbers them (Coinbase ``sequence_num`` per connection, trade ids everywhere) so neither
recorder sees a gap or a duplicate. The frames are built before the clock starts; the server
then costs a memcpy per chunk.

Both recorders get byte-identical data frames on Coinbase, Binance and Deribit. Kraken is the
exception: cryptofeed 2.4 speaks Kraken's WebSocket v1 and mdi v2, so each gets the same trades
in its own protocol version (v1 arrays for cryptofeed, v2 objects for mdi).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bench.blaster import ws_text_frame  # one final, unmasked text frame: what a server sends

BASE_PRICE = Decimal("97000.00")
_NUMBER_TEXT = re.compile(r'"(-?\d+\.\d+)"')  # a decimal written as a JSON string -> the same digits as a number
T0_MS = 1_796_000_000_000  # 2026-12-0x: a fixed, recent epoch for every frame's timestamps


def _iso(ms: int, micros: int = 0) -> str:
    import datetime as dt

    t = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{(ms % 1000) * 1000 + micros:06d}Z"


def _dumps(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"))


@dataclass
class Session:
    """One client connection's protocol state on the server."""

    path: str
    seq: int = 0  # Coinbase: one counter across channels
    data_subscribed: bool = False
    sent: list[str] = field(default_factory=list)


class Venue:
    """A venue's side of the blast (subclasses below)."""

    name = ""
    mdi_symbol = ""

    def on_connect(self, s: Session) -> list[str]:
        return []

    def on_message(self, s: Session, text: str) -> list[str]:
        return []

    def blast(self, s: Session, events: int, client: str) -> tuple[list[bytes], int]:
        """``(frames, events)``: the data frames of the run, ready to write."""
        raise NotImplementedError

    def mdi_section(self, url: str) -> dict[str, Any]:
        """The ``[connectors.<name>]`` table that makes mdi take this blast."""
        raise NotImplementedError


def _price(rng: random.Random, i: int) -> str:
    return str(BASE_PRICE + Decimal(rng.randint(-5000, 5000)) / 100)


class Coinbase(Venue):
    """Advanced Trade ``market_trades`` updates of 1-2 trades (the issue's 300k trades/216k frames)."""

    name = "coinbase"

    def on_message(self, s: Session, text: str) -> list[str]:
        msg = json.loads(text)
        if msg.get("type") != "subscribe":
            return []
        channel = msg.get("channel")
        if channel == "market_trades":
            s.data_subscribed = True
        products = msg.get("product_ids") or []
        subs = {channel: products if channel != "heartbeats" else ["heartbeats"]}
        return [self._frame(s, "subscriptions", [{"subscriptions": subs}], T0_MS)]

    def _frame(self, s: Session, channel: str, events: list[Any], ms: int) -> str:
        body = {"channel": channel, "timestamp": _iso(ms), "sequence_num": s.seq, "events": events}
        s.seq += 1
        return _dumps(body)

    def blast(self, s: Session, events: int, client: str) -> tuple[list[bytes], int]:
        rng = random.Random(7)
        frames: list[bytes] = []
        trade_id, made, ms = 1_070_000_000, 0, T0_MS
        while made < events:
            n = min(events - made, 1 if rng.random() < 0.62 else 2)  # 1.38 trades per frame
            ms += 1
            trades = []
            for _ in range(n):
                trade_id += 1
                trades.append({"product_id": "BTC-USD", "trade_id": str(trade_id), "price": _price(rng, trade_id),
                               "size": f"0.{rng.randint(1, 99_999_999):08d}", "time": _iso(ms, rng.randint(0, 999)),
                               "side": "BUY" if rng.random() < 0.5 else "SELL"})
            made += n
            frames.append(ws_text_frame(self._frame(s, "market_trades", [{"type": "update", "trades": trades}], ms).encode()))
        return frames, made

    def mdi_section(self, url: str) -> dict[str, Any]:
        return {"url": url, "symbols": ["BTC-USD"], "bbo": False, "trades": True, "heartbeats": True}


class Binance(Venue):
    """USD-M ``btcusdt@markPrice@1s`` on a combined stream, one mark price per frame."""

    name = "binance"

    def on_connect(self, s: Session) -> list[str]:
        if "streams=" in s.path:  # cryptofeed subscribes in the URL
            s.data_subscribed = True
        return []

    def on_message(self, s: Session, text: str) -> list[str]:
        msg = json.loads(text)
        if msg.get("method") == "SUBSCRIBE":
            s.data_subscribed = True
            return [_dumps({"result": None, "id": msg.get("id")})]
        return []

    def blast(self, s: Session, events: int, client: str) -> tuple[list[bytes], int]:
        rng = random.Random(5)
        stream = "btcusdt@markPrice@1s"
        if "streams=" in s.path:
            stream = s.path.split("streams=", 1)[1].split("/")[0].split("&")[0]
        frames = []
        for i in range(events):
            ms = T0_MS + i
            data = {"e": "markPriceUpdate", "E": ms, "s": "BTCUSDT", "p": _price(rng, i), "P": _price(rng, i),
                    "i": _price(rng, i), "r": f"0.{rng.randint(1, 99_999):08d}", "T": T0_MS + 8 * 3_600_000}
            frames.append(ws_text_frame(_dumps({"stream": stream, "data": data}).encode()))
        return frames, events

    def mdi_section(self, url: str) -> dict[str, Any]:
        return {"url": url, "symbols": ["BTCUSDT"], "stream": "markPrice@1s"}


class Kraken(Venue):
    """``trade`` updates of 1-3 trades. mdi (and the raw client) speak v2; cryptofeed 2.4 v1."""

    name = "kraken"

    def on_message(self, s: Session, text: str) -> list[str]:
        msg = json.loads(text)
        if msg.get("method") == "subscribe":  # v2
            params = msg.get("params") or {}
            replies = []
            for symbol in params.get("symbol") or []:
                result = {"channel": params.get("channel"), "snapshot": params.get("snapshot", True), "symbol": symbol}
                replies.append(_dumps({"method": "subscribe", "req_id": msg.get("req_id"), "result": result, "success": True}))
            if params.get("channel") == "trade":
                s.data_subscribed = True
            return replies
        if msg.get("method") == "ping":
            return [_dumps({"method": "pong", "req_id": msg.get("req_id")})]
        if msg.get("event") == "subscribe":  # v1
            s.data_subscribed = True
            return [_dumps({"channelID": 337, "channelName": "trade", "event": "subscriptionStatus", "pair": pair,
                            "status": "subscribed", "subscription": {"name": "trade"}}) for pair in msg.get("pair") or []]
        return []

    def blast(self, s: Session, events: int, client: str) -> tuple[list[bytes], int]:
        rng = random.Random(3)
        frames: list[bytes] = []
        trade_id, made, ms = 90_000_000, 0, T0_MS
        while made < events:
            n = min(events - made, rng.choice((1, 1, 2, 3)))
            ms += 1
            rows = []
            for _ in range(n):
                trade_id += 1
                rows.append((_price(rng, trade_id), f"0.{rng.randint(1, 99_999_999):08d}", "buy" if rng.random() < 0.5 else "sell",
                             rng.randint(0, 999), trade_id))
            made += n
            if client == "cf":
                body = _dumps([337, [[p, q, f"{ms / 1000:.6f}", side[0], "l", ""] for p, q, side, _, _ in rows], "trade", "XBT/USD"])
            else:
                body = ('{"channel":"trade","type":"update","data":['
                        + ",".join(f'{{"symbol":"BTC/USD","side":"{side}","price":{p},"qty":{q},"ord_type":"limit",'
                                   f'"trade_id":{tid},"timestamp":"{_iso(ms, us)}"}}' for p, q, side, us, tid in rows)
                        + "]}")
            frames.append(ws_text_frame(body.encode()))
        return frames, made

    def mdi_section(self, url: str) -> dict[str, Any]:
        return {"url": url, "symbols": ["BTC/USD"], "bbo": False, "trades": True, "trade_snapshot": False}


class Deribit(Venue):
    """Option ``ticker`` notifications of one instrument. mdi subscribes ``.100ms``, cryptofeed
    ``.raw``: the same data, each under the channel name it asked for."""

    name = "deribit"
    instrument = "BTC-25DEC26-100000-C"

    def on_message(self, s: Session, text: str) -> list[str]:
        msg = json.loads(text)
        method, rid = msg.get("method"), msg.get("id")
        if method == "public/auth":  # cryptofeed 2.4 counts Deribit tickers as authenticated
            return [_dumps({"jsonrpc": "2.0", "id": rid, "result": {"access_token": "loopback", "expires_in": 900,
                                                                    "refresh_token": "loopback", "scope": "session", "token_type": "bearer"}})]
        if method in ("public/subscribe", "private/subscribe"):
            channels = (msg.get("params") or {}).get("channels") or []
            s.sent = [c for c in channels if c.startswith("ticker.")]
            s.data_subscribed = bool(s.sent)
            return [_dumps({"jsonrpc": "2.0", "id": rid, "result": channels})]
        if method in ("public/set_heartbeat", "public/test", "public/hello"):
            return [_dumps({"jsonrpc": "2.0", "id": rid, "result": "ok" if method != "public/test" else {"version": "1.2.26"}})]
        return []

    def blast(self, s: Session, events: int, client: str) -> tuple[list[bytes], int]:
        rng = random.Random(9)
        channel = s.sent[0] if s.sent else f"ticker.{self.instrument}.100ms"
        frames = []
        for i in range(events):
            bid = Decimal(rng.randint(500, 600)) / 10000
            data = {
                "underlying_price": _price(rng, i), "underlying_index": "BTC-25DEC26", "timestamp": T0_MS + i,
                "stats": {"volume": 16.7, "price_change": -1.5, "low": 0.05, "high": 0.06}, "state": "open",
                "settlement_price": 0.055, "open_interest": 1767.5, "min_price": 0.0001, "max_price": 0.2,
                "mark_price": str(bid + Decimal("0.0005")), "mark_iv": 57.7, "last_price": 0.055, "interest_rate": 0.0,
                "instrument_name": self.instrument, "index_price": _price(rng, i),
                "greeks": {"vega": 120.05, "theta": -25.6, "rho": 40.9, "gamma": 0.00001, "delta": 0.35},
                "estimated_delivery_price": _price(rng, i), "bid_iv": 57.16, "best_bid_price": str(bid),
                "best_bid_amount": 2.8, "best_ask_price": str(bid + Decimal("0.001")), "best_ask_amount": 18.5, "ask_iv": 58.65,
            }
            text = _dumps({"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}})
            frames.append(ws_text_frame(_NUMBER_TEXT.sub(r"\1", text).encode()))  # Deribit sends numbers
        return frames, events

    def mdi_section(self, url: str) -> dict[str, Any]:
        return {"url": url, "discover": False, "instruments": [self.instrument], "dvol": False}


VENUES: dict[str, Venue] = {v.name: v for v in (Kraken(), Coinbase(), Deribit(), Binance())}

# What the raw-ceiling client sends to start the data (the mdi connector's own requests).
SUBSCRIBE: dict[str, list[str]] = {
    "coinbase": [_dumps({"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "market_trades"}),
                 _dumps({"type": "subscribe", "channel": "heartbeats"})],
    "binance": [_dumps({"method": "SUBSCRIBE", "params": ["btcusdt@markPrice@1s"], "id": 1})],
    "deribit": [_dumps({"jsonrpc": "2.0", "id": 1, "method": "public/subscribe",
                        "params": {"channels": [f"ticker.{Deribit.instrument}.100ms"]}})],
    "kraken": [_dumps({"method": "subscribe", "params": {"channel": "trade", "symbol": ["BTC/USD"], "snapshot": False}, "req_id": 1})],
}
