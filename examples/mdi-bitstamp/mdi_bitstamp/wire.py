"""Bitstamp WebSocket v2 wire format: frozen msgspec Structs, decoders built once.

Every frame is ``{"event": ..., "channel": ..., "data": ...}``. The envelope is decoded with
``data`` kept as ``msgspec.Raw``; the session dispatches on the exact ``event`` and decodes
``data`` with that event's decoder. Events: ``bts:subscription_succeeded`` (the ack, per
channel), ``bts:unsubscription_succeeded``, ``bts:error`` (``data.message``; ``channel`` is
often ``""``), ``bts:heartbeat`` (answer to ours), ``bts:request_reconnect`` (the server asks us
to reconnect), ``trade`` on ``live_trades_<pair>`` and ``data`` on ``order_book_<pair>``.

Trades carry ``price``/``amount`` as JSON numbers *and* ``price_str``/``amount_str`` as text;
the text fields are decoded to ``Decimal`` (exact). ``type`` is the taker side: 0 buy, 1 sell.
``microtimestamp`` is a string of microseconds since the epoch. Book levels are
``[price, amount]`` string pairs, best first.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

EMPTY = msgspec.Raw(b"{}")


class Envelope(msgspec.Struct, frozen=True):
    event: str
    channel: str = ""
    data: msgspec.Raw = EMPTY


class WireTrade(msgspec.Struct, frozen=True):
    id: int
    price_str: Decimal
    amount_str: Decimal
    type: int
    microtimestamp: str
    timestamp: str = ""


class WireBook(msgspec.Struct, frozen=True):
    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]
    microtimestamp: str
    timestamp: str = ""


class ErrorData(msgspec.Struct, frozen=True):
    message: str = ""
    code: int | str | None = None


class ChannelRequest(msgspec.Struct, frozen=True):
    channel: str


class Request(msgspec.Struct, frozen=True):
    """What a client sends: ``bts:subscribe``/``bts:unsubscribe`` (with a channel), ``bts:heartbeat``."""

    event: str
    data: ChannelRequest | None = None


ENVELOPE = msgspec.json.Decoder(Envelope)
TRADE = msgspec.json.Decoder(WireTrade)
BOOK = msgspec.json.Decoder(WireBook)
ERROR = msgspec.json.Decoder(ErrorData)
REQUEST = msgspec.json.Decoder(Request)
_encoder = msgspec.json.Encoder()

HEARTBEAT_REQUEST = '{"event":"bts:heartbeat"}'


def subscribe(channel: str, event: str = "bts:subscribe") -> str:
    """``{"event":"bts:subscribe","data":{"channel":"live_trades_btcusd"}}``."""
    return _encoder.encode(Request(event=event, data=ChannelRequest(channel=channel))).decode()


def encode(obj: object) -> str:
    return _encoder.encode(obj).decode()
