"""Kraken Spot WebSocket v2 wire format: frozen msgspec Structs and decoders built once.

Kraken has no single discriminator: data frames carry ``channel`` (+ ``type``), method replies
carry ``method``. The two data channels (``ticker``, ``trade``) are tried first as one tagged
union on ``channel`` (:data:`DATA_FRAME`, one decoding pass per frame); every other frame is
decoded into :class:`Envelope` with the payload kept as ``msgspec.Raw``, the session dispatches
on the exact ``channel``/``method`` value and decodes the payload with the decoder for that
channel. Unknown keys are ignored (Kraken adds fields, e.g.
``timestamp`` on ticker, ``status`` on some errors, ``warnings`` in acks).

Prices and sizes are JSON *numbers* whose text is exact (``0.10000000``, ``58033``): msgspec
decodes them into ``Decimal`` from that text, never through a float.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

import msgspec

EMPTY = msgspec.Raw(b"")

# Kraken's legacy asset codes that v2 may still show; anything else maps through unchanged.
ASSET_ALIASES: dict[str, str] = {"XBT": "BTC"}


class Envelope(msgspec.Struct, frozen=True):
    """Every key a top-level Kraken frame may carry; payloads stay raw until dispatch."""

    channel: str | None = None
    type: str | None = None
    data: msgspec.Raw = EMPTY
    method: str | None = None
    success: bool | None = None
    error: str | None = None
    req_id: int | None = None
    symbol: str | None = None
    result: msgspec.Raw = EMPTY


class TickerData(msgspec.Struct, frozen=True, gc=False):
    """One ``ticker`` entry; only the BBO fields are decoded. ``timestamp`` is absent in 2024 frames."""

    symbol: str
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    timestamp: str | None = None


class TradeData(msgspec.Struct, frozen=True, gc=False):
    """One ``trade`` entry; ``trade_id`` is a per-pair sequence number (an int on the wire).

    ``ord_type`` is not decoded (nothing reads it: one string per trade saved). ``gc=False``
    on the data structs: strings, ints and Decimals can form no reference cycle, so the
    collector need not track (and scan) one object per trade; the frame structs below hold
    only a list of those, built by the decoder, and are untracked for the same reason.
    """

    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    trade_id: int
    timestamp: str


class StatusData(msgspec.Struct, frozen=True):
    """``status`` entry. ``connection_id`` exceeds 2**63, so it stays raw text (see :func:`raw_int`)."""

    system: str
    api_version: str = ""
    version: str = ""
    connection_id: msgspec.Raw = EMPTY


class SubscribeResult(msgspec.Struct, frozen=True):
    """``result`` of a successful subscribe reply: one per (channel, symbol)."""

    channel: str
    symbol: str
    warnings: list[str] = []


class SubscribeParams(msgspec.Struct, frozen=True, omit_defaults=True):
    channel: str
    symbol: list[str]
    event_trigger: str | None = None
    snapshot: bool | None = None


class SubscribeRequest(msgspec.Struct, frozen=True, kw_only=True):
    method: str = "subscribe"
    params: SubscribeParams
    req_id: int


class PingRequest(msgspec.Struct, frozen=True, kw_only=True):
    method: str = "ping"
    req_id: int


class TickerFrame(msgspec.Struct, frozen=True, gc=False, tag_field="channel", tag="ticker"):
    """A whole ``ticker`` data frame, decoded in one pass (see :data:`DATA_FRAME`)."""

    data: list[TickerData]
    type: str | None = None


class TradeFrame(msgspec.Struct, frozen=True, gc=False, tag_field="channel", tag="trade"):
    """A whole ``trade`` data frame, decoded in one pass (see :data:`DATA_FRAME`)."""

    data: list[TradeData]
    type: str | None = None


ENVELOPE = msgspec.json.Decoder(Envelope)
# The two data channels carry nearly every frame, and ``channel`` is their one discriminator, so
# they are decoded in one pass as a tagged union (an exact match on ``channel``); anything else
# (heartbeats, status, method replies, malformed frames) fails this decoder and takes the
# ENVELOPE path, which dispatches it or reports it.
DATA_FRAME = msgspec.json.Decoder(TickerFrame | TradeFrame)
TICKER_DATA = msgspec.json.Decoder(list[TickerData])
TRADE_DATA = msgspec.json.Decoder(list[TradeData])
STATUS_DATA = msgspec.json.Decoder(list[StatusData])
SUBSCRIBE_RESULT = msgspec.json.Decoder(SubscribeResult)
ENCODER = msgspec.json.Encoder()


def raw_int(raw: msgspec.Raw) -> int | None:
    """An arbitrarily large JSON integer kept as raw text -> Python int (None when absent)."""
    text = bytes(raw)
    if not text or text == b"null":
        return None
    return int(text)


@lru_cache(maxsize=1024)
def canonical_symbol(pair: str) -> str:
    """Kraken ``BTC/USD`` (or legacy ``XBT/USD``) -> canonical ``BTC-USD``.

    Raises ValueError for anything that is not ``BASE/QUOTE``, so a bad frame is counted.
    """
    base, sep, quote = pair.partition("/")
    if not sep or not base or not quote or "/" in quote:
        raise ValueError(f"not a Kraken pair: {pair!r}")
    return f"{ASSET_ALIASES.get(base, base)}-{ASSET_ALIASES.get(quote, quote)}"


def subscribe_request(channel: str, symbols: list[str], req_id: int, *, event_trigger: str | None = None,
                      snapshot: bool | None = None) -> str:
    """The text of a v2 ``subscribe`` request for one channel and several pairs."""
    params = SubscribeParams(channel=channel, symbol=symbols, event_trigger=event_trigger, snapshot=snapshot)
    return ENCODER.encode(SubscribeRequest(params=params, req_id=req_id)).decode()


def ping_request(req_id: int) -> str:
    return ENCODER.encode(PingRequest(req_id=req_id)).decode()
