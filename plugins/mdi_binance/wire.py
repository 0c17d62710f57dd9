"""Binance USD-M futures WebSocket messages as frozen msgspec Structs; decoders built once.

Binance has no single envelope tag, so a frame is first decoded as :class:`Envelope` with the
payload left as :class:`msgspec.Raw`, then dispatched on which exact keys are present:

- ``data`` (and ``stream``): a combined-stream frame (``/market/stream``); ``data`` is one
  event object or, for ``!markPrice@arr``, a list of them.
- ``e``: a raw-stream event (``/market/ws``), the whole frame is the event.
- ``error``: a refused request ``{"error":{"code":..,"msg":..},"id":..}``.
- ``id`` without ``error``: a control reply such as ``{"result":null,"id":1}`` (key order varies).
- ``code`` and ``msg`` at the top level: the unwrapped error shape of Binance's docs table.

A raw ``/ws/!markPrice@arr`` frame is a bare JSON array; the envelope decoder accepts that too.

``markPriceUpdate`` carries every value as a string. ``r`` (funding rate) is ``""`` on COIN-M
delivery contracts, so it is kept as text and converted by the session; ``T`` (next funding
time) is ``0`` on delivery contracts. ``i`` (index) is missing in 2019 payloads and ``P``
(estimated settle price) in 2020 ones. Unknown keys (``ap``, ``st``) are ignored.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec


class MarkPriceUpdate(msgspec.Struct, frozen=True, tag_field="e", tag="markPriceUpdate"):
    """One ``markPriceUpdate`` event; ``e`` is Binance's event-type tag."""

    E: int  # event time, ms since the epoch
    s: str  # symbol, e.g. BTCUSDT
    p: Decimal  # mark price
    i: Decimal | None = None  # index price
    P: Decimal | None = None  # estimated settle price
    r: str = ""  # funding rate as text; "" on delivery contracts
    T: int = 0  # next funding time, ms; 0 on delivery contracts


class ErrorBody(msgspec.Struct, frozen=True):
    code: int
    msg: str = ""


class Envelope(msgspec.Struct, frozen=True):
    """Every key any Binance market-stream frame may carry at the top level (see module doc)."""

    stream: str | None = None
    data: msgspec.Raw = msgspec.Raw()
    e: str | None = None
    id: int | str | None = None
    result: msgspec.Raw = msgspec.Raw()
    error: ErrorBody | None = None
    code: int | None = None
    msg: str | None = None


class CombinedMarkPrice(msgspec.Struct, frozen=True):
    """A combined-stream frame carrying one ``markPriceUpdate``, decoded in one pass (the hot path).

    It declares every key :class:`Envelope` declares, with the same types, so a frame it decodes
    is one :data:`ENVELOPE` decodes to an Envelope with ``data``, whose ``data`` :data:`PAYLOAD`
    decodes to the same :class:`MarkPriceUpdate`. What it refuses takes the general path.
    """

    data: MarkPriceUpdate
    stream: str | None = None
    e: str | None = None
    id: int | str | None = None
    result: msgspec.Raw = msgspec.Raw()
    error: ErrorBody | None = None
    code: int | None = None
    msg: str | None = None


MarkPricePayload = MarkPriceUpdate | list[MarkPriceUpdate]

ENVELOPE = msgspec.json.Decoder(Envelope | list[MarkPriceUpdate])
PAYLOAD = msgspec.json.Decoder(MarkPricePayload)
COMBINED_MARK_PRICE = msgspec.json.Decoder(CombinedMarkPrice)


class SubscribeRequest(msgspec.Struct, frozen=True):
    """``{"method":"SUBSCRIBE","params":[...],"id":N}``; the reply echoes ``id``."""

    method: str
    params: list[str]
    id: int


encode = msgspec.json.Encoder().encode
