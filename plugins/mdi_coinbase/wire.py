"""Coinbase Advanced Trade WebSocket wire format: frozen msgspec Structs, decoders built once.

Every frame shares one envelope: ``channel``, ``client_id`` (``""`` in older captures, absent in
2026), ``timestamp`` (RFC 3339, 3-9 fractional digits), ``sequence_num`` (one counter per
connection across all channels) and ``events`` (a list whose item shape depends on the channel).
Errors have no channel: ``{"type":"error","message":...}``. The data channels (``market_trades``,
``ticker``) are decoded in one pass by :data:`DATA_FRAME`, a union tagged by ``channel``; every
other frame, and any frame that union refuses, takes the general way: the envelope is decoded
with ``events`` kept as ``msgspec.Raw``, the session dispatches on the exact ``channel`` (or
``type``) and decodes the events with that channel's decoder. Unknown keys are ignored: Coinbase adds
fields (``best_bid`` on ``ticker`` since 2024-04) and tickers carry many we do not need.

Prices and sizes are JSON *strings* (``"65083.67"``, ``"126296"``): msgspec decodes them into
``Decimal`` from their text, never through a float.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

EMPTY_LIST = msgspec.Raw(b"[]")


class Envelope(msgspec.Struct, frozen=True):
    """Every top-level key a Coinbase frame may carry; ``events`` stays raw until dispatch."""

    channel: str | None = None
    timestamp: str | None = None
    sequence_num: int | None = None
    client_id: str | None = None
    events: msgspec.Raw = EMPTY_LIST
    type: str | None = None
    message: str | None = None
    reason: str | None = None


class Ticker(msgspec.Struct, frozen=True):
    """One ``ticker`` entry; only the best bid/offer is decoded.

    The four ``best_*`` fields exist since 2024-04-12; older frames (and every ``ticker_batch``)
    lack them, so they are optional here and the session decides what such a frame means.
    """

    product_id: str
    best_bid: Decimal | None = None
    best_bid_quantity: Decimal | None = None
    best_ask: Decimal | None = None
    best_ask_quantity: Decimal | None = None


class TickerEvent(msgspec.Struct, frozen=True):
    """``events[i]`` of a ``ticker`` frame: ``type`` is ``snapshot`` or ``update``."""

    tickers: list[Ticker] = []
    type: str = "update"


class MarketTrade(msgspec.Struct, frozen=True):
    """One public trade. ``trade_id`` is a string; ``side`` is ``BUY``/``SELL`` (maker side)."""

    product_id: str
    trade_id: str
    price: Decimal
    size: Decimal
    time: str
    side: str = ""


class TradesEvent(msgspec.Struct, frozen=True):
    """``events[i]`` of a ``market_trades`` frame; trades arrive newest first."""

    trades: list[MarketTrade] = []
    type: str = "update"


class HeartbeatEvent(msgspec.Struct, frozen=True):
    """``events[i]`` of a ``heartbeats`` frame.

    ``heartbeat_counter`` is an int on the wire (older docs show a string such as ``"3049"``).
    ``current_time`` is Go's ``time.String()`` (``2025-01-14 22:11:18.787177997 +0000 UTC
    m=+25541.571430466``), not RFC 3339: it is kept as text and never parsed, because the
    envelope ``timestamp`` carries the same instant in a standard format.
    """

    heartbeat_counter: int | str
    current_time: str = ""


class SubscriptionsEvent(msgspec.Struct, frozen=True):
    """``events[i]`` of a ``subscriptions`` frame: every active channel -> product ids, cumulative."""

    subscriptions: dict[str, list[str]] = {}


class SubscribeRequest(msgspec.Struct, frozen=True, omit_defaults=True):
    """``{"type":"subscribe","product_ids":[...],"channel":"ticker"}``: one channel per message."""

    type: str
    channel: str
    product_ids: list[str] | None = None
    jwt: str | None = None


class DataFrame(msgspec.Struct, frozen=True, tag_field="channel"):
    """A whole data frame in one decode: the envelope's fields (same names and types as
    :class:`Envelope`, so whatever this accepts the envelope accepts too); each subclass adds
    ``events`` decoded in the same pass instead of kept raw, and is tagged by ``channel``."""

    timestamp: str | None = None
    sequence_num: int | None = None
    client_id: str | None = None
    type: str | None = None
    message: str | None = None
    reason: str | None = None


class TradesFrame(DataFrame, frozen=True, tag="market_trades"):
    """A whole ``market_trades`` frame."""

    events: list[TradesEvent] = []


class TickerFrame(DataFrame, frozen=True, tag="ticker"):
    """A whole ``ticker`` frame."""

    events: list[TickerEvent] = []


ENVELOPE = msgspec.json.Decoder(Envelope)
# The data channels in one pass, tagged by ``channel``. Anything this refuses (another channel,
# no channel, an error frame, a bad value, a repeated key) goes the general way: ENVELOPE, then
# the channel's events decoder, which raises or handles it exactly as if this did not exist.
DATA_FRAME = msgspec.json.Decoder(TradesFrame | TickerFrame)
TICKER_EVENTS = msgspec.json.Decoder(list[TickerEvent])
TRADES_EVENTS = msgspec.json.Decoder(list[TradesEvent])
HEARTBEAT_EVENTS = msgspec.json.Decoder(list[HeartbeatEvent])
SUBSCRIPTIONS_EVENTS = msgspec.json.Decoder(list[SubscriptionsEvent])
SUBSCRIBE_REQUEST = msgspec.json.Decoder(SubscribeRequest)
_encoder = msgspec.json.Encoder()


def subscribe_request(channel: str, product_ids: list[str] | None, type: str = "subscribe") -> str:
    """Text of one (un)subscribe message; ``product_ids`` None for ``heartbeats``."""
    return _encoder.encode(SubscribeRequest(type=type, channel=channel, product_ids=product_ids)).decode()
