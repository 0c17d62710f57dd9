"""Deribit JSON-RPC v2 wire messages: frozen msgspec Structs and decoders built once.

JSON-RPC has no single tag: a frame is a notification (``method`` is ``subscription`` or
``heartbeat``, no ``id``), a response (``id`` plus ``result`` or ``error``), or an error without
an ``id``. :data:`ENVELOPE` decodes every shape in one pass, keeping ``result`` and the
notification ``data`` as :class:`msgspec.Raw` so that the second decode picks the exact type by
request method or channel name. Numbers (plain or exponent form, ``1.423e-4``) decode to
``Decimal`` from their text. Unknown keys are ignored: Deribit adds fields over time.

Option tickers are nearly every frame, so :data:`TICKER_NOTIFICATION` first tries to decode a
frame as one in a single pass; what it refuses takes the general path above.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from mdi.events import Greeks

JSONRPC = "2.0"


class RpcError(msgspec.Struct, frozen=True):
    """``{"code","message","data"}``; ``data`` may be an object, a string, null or absent."""

    code: int
    message: str = ""
    data: msgspec.Raw = msgspec.Raw()

    def describe(self) -> str:
        detail = bytes(self.data).decode("utf-8", "replace") if self.data else ""
        text = f"{self.code} {self.message}"
        return f"{text} {detail}" if detail and detail != "null" else text


class NotificationParams(msgspec.Struct, frozen=True):
    """``params`` of a notification: ``channel`` + ``data``, or the heartbeat ``type``."""

    channel: str = ""
    data: msgspec.Raw = msgspec.Raw()
    type: str = ""


class Envelope(msgspec.Struct, frozen=True):
    method: str = ""
    params: NotificationParams | None = None
    id: int | None = None
    result: msgspec.Raw = msgspec.Raw()
    error: RpcError | None = None


class TickerData(msgspec.Struct, frozen=True):
    """``ticker.{instrument}.{interval}`` data. ``stats``, ``last_price`` and
    ``estimated_delivery_price`` (the string ``"expired"`` after expiry) are deliberately not
    declared, so their null or string forms never fail a frame."""

    instrument_name: str
    timestamp: int
    underlying_price: Decimal | None = None
    underlying_index: str | None = None
    index_price: Decimal | None = None
    mark_price: Decimal | None = None
    mark_iv: Decimal | None = None
    bid_iv: Decimal | None = None
    ask_iv: Decimal | None = None
    best_bid_price: Decimal | None = None
    best_bid_amount: Decimal | None = None
    best_ask_price: Decimal | None = None
    best_ask_amount: Decimal | None = None
    open_interest: Decimal | None = None
    greeks: Greeks | None = None


class TickerParams(msgspec.Struct, frozen=True):
    """:class:`NotificationParams` with the ticker ``data`` decoded in the same pass."""

    data: TickerData
    channel: str = ""
    type: str = ""


class TickerNotification(msgspec.Struct, frozen=True):
    """A ticker notification decoded in one pass (the hot path, :data:`TICKER_NOTIFICATION`).

    It declares every key :class:`Envelope` declares, with the same types, so a frame it decodes
    is one :data:`ENVELOPE` decodes too, to the same values, and its ``params.data`` one
    :data:`TICKER` decodes to the same :class:`TickerData`. A frame it refuses (another
    notification, a response, a bad ticker) goes through the general two-pass path, which
    decides as before (and raises the same errors).
    """

    params: TickerParams
    method: str = ""
    id: int | None = None
    result: msgspec.Raw = msgspec.Raw()
    error: RpcError | None = None


class VolIndexData(msgspec.Struct, frozen=True):
    """``deribit_volatility_index.{index_name}`` data (DVOL)."""

    volatility: Decimal
    timestamp: int
    index_name: str


class Instrument(msgspec.Struct, frozen=True):
    """One entry of ``public/get_instruments``; only the fields the selection uses."""

    instrument_name: str
    kind: str
    expiration_timestamp: int
    strike: Decimal | None = None
    option_type: str = ""
    base_currency: str = ""
    is_active: bool = True


class IndexPrice(msgspec.Struct, frozen=True):
    """``public/get_index_price`` result (``estimated_delivery_price`` is not needed)."""

    index_price: Decimal


class Request(msgspec.Struct, frozen=True):
    id: int
    method: str
    params: dict[str, Any]
    jsonrpc: str = JSONRPC


ENVELOPE = msgspec.json.Decoder(Envelope)
TICKER = msgspec.json.Decoder(TickerData)
TICKER_NOTIFICATION = msgspec.json.Decoder(TickerNotification)
VOL_INDEX = msgspec.json.Decoder(VolIndexData)
INSTRUMENTS = msgspec.json.Decoder(list[Instrument])
INDEX_PRICE = msgspec.json.Decoder(IndexPrice)
CHANNELS = msgspec.json.Decoder(list[str])

_encoder = msgspec.json.Encoder()


def encode_request(request_id: int, method: str, params: dict[str, Any]) -> str:
    return _encoder.encode(Request(id=request_id, method=method, params=params)).decode()
