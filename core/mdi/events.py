"""Normalized events: the one vocabulary every connector, pipeline and sink shares.

Every event is a frozen msgspec Struct in one tagged union (tag field ``kind``), so a batch can be
encoded, decoded and dispatched without isinstance chains. The tag doubles as the Parquet stream
name. Prices and sizes are ``Decimal`` built from the venue's text, never from a float.

Meta on every event:
- ``venue``: plugin-level venue name (``kraken``, ``coinbase``, ...; ``mdi`` for derived events).
- ``symbol``: canonical symbol (``BTC-USD``, ``BTC-USDT-PERP``, Deribit instrument names as given).
- ``ts_exchange``: the venue's timestamp in ns since the epoch (UTC), when the venue gives one.
- ``ts_recv``: local receive time in ns since the epoch (UTC).
- ``seq``: assigned by the router (0 until then); strictly increasing for the life of the lake.
  The router is the only writer, through :func:`stamp_seq`, before anyone else sees the event.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, TypeAlias

import msgspec

Side = Literal["buy", "sell", "unknown"]
OptionType = Literal["C", "P"]
Quality = Literal["Ok", "Degraded", "Suspect"]
TradeSource = Literal["ws", "rest"]
Repair = Literal["", "repaired", "partly_repaired", "unrepairable", "not_attempted"]


class EventBase(msgspec.Struct, frozen=True, tag_field="kind", kw_only=True):
    """Fields shared by every event (see module docstring)."""

    venue: str
    symbol: str
    ts_recv: int
    ts_exchange: int | None = None
    seq: int = 0


class BBO(EventBase, frozen=True, tag="bbo"):
    """Best bid and offer at one venue."""

    bid_px: Decimal
    bid_sz: Decimal
    ask_px: Decimal
    ask_sz: Decimal


class Trade(EventBase, frozen=True, tag="trade"):
    """One public trade; ``trade_id`` is the venue's id as text (venues mix ints and strings).

    ``side`` is the *taker's* (aggressor's) side on every venue: a ``buy`` lifted the offer.
    Venues that publish the maker's side (Coinbase ``market_trades``) are inverted by their
    connector.

    ``source`` says how the row reached mdi: ``ws`` (the venue's stream) or ``rest`` (fetched
    after a gap by :mod:`mdi.backfill`). Either way a trade id appears once per venue and symbol.
    """

    trade_id: str
    price: Decimal
    size: Decimal
    side: Side = "unknown"
    source: TradeSource = "ws"


class Greeks(msgspec.Struct, frozen=True, kw_only=True):
    delta: Decimal | None = None
    gamma: Decimal | None = None
    vega: Decimal | None = None
    theta: Decimal | None = None
    rho: Decimal | None = None


class OptionTicker(EventBase, frozen=True, tag="option_ticker"):
    """Deribit-style option ticker. Option prices are in the settlement coin (BTC), index in USD.

    ``None`` means the venue did not send the value or sent an empty side (Deribit's ``0.0``
    bid/ask with ``0.0`` IV is normalized to ``None`` so nobody mistakes it for a quote).
    """

    expiry_ns: int
    strike: Decimal
    option_type: OptionType
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
    greeks: Greeks = Greeks()


class VolIndex(EventBase, frozen=True, tag="vol_index"):
    """A volatility index print such as Deribit DVOL (``index_name`` e.g. ``btc_usd``)."""

    index_name: str
    value: Decimal


class MarkPrice(EventBase, frozen=True, tag="mark_price"):
    """Perpetual mark price, index and funding (Binance ``markPriceUpdate``)."""

    mark_price: Decimal
    index_price: Decimal | None = None
    est_settle_price: Decimal | None = None
    funding_rate: Decimal | None = None
    next_funding_ns: int | None = None


ConnState = Literal[
    "connecting", "connected", "subscribed", "rejected", "disconnected", "stale", "backoff"
]


class ConnectionStatus(EventBase, frozen=True, tag="status"):
    """A connection lifecycle change, so that disconnects are data in the lake too."""

    state: ConnState
    detail: str = ""
    attempt: int = 0


class SequenceGap(EventBase, frozen=True, tag="gap"):
    """The venue's own message numbering skipped: ``expected`` was due, ``received`` came.

    For trade-id holes (channel ``trade``) the row is written once the REST repair is over:
    ``repair`` is ``repaired``, ``partly_repaired``, ``unrepairable`` or ``not_attempted``,
    ``repair_reason`` a short code (``beyond_reach``, ``rate_limited``, ``venue_error``,
    ``request_budget``, ``not_in_venue_history``, ``queue_full``, ``shutdown``,
    ``backfill_off``, ``no_repair_worker``, ``rest_url_not_local``) with ``repair_detail`` in words, ``backfilled`` the
    trades fetched and ``missing`` the ids still absent. ``""`` where repair does not apply
    (connection-level numbering).
    """

    channel: str
    expected: int
    received: int
    repair: Repair = ""
    repair_reason: str = ""
    repair_detail: str = ""
    backfilled: int = 0
    missing: int = 0


class Rejected(EventBase, frozen=True, tag="rejected"):
    """Venue input refused at the edge (a non-finite, non-positive or placeholder value), kept
    for audit so that nothing received is silently gone: ``reason`` is the validator's word
    (``non_finite``, ``not_positive``, ...), ``field`` the venue's field, ``value`` its text, and
    ``raw`` the whole frame text as received (cut at :data:`RAW_LIMIT` characters)."""

    reason: str
    field: str = ""
    value: str = ""
    raw: str = ""


RAW_LIMIT = 65_536


class VenueMid(msgspec.Struct, frozen=True, kw_only=True):
    venue: str
    mid: Decimal | None
    age_ms: int | None
    fresh: bool
    reason: str = ""


class SpotMid(EventBase, frozen=True, tag="spot_mid_1s"):
    """Consolidated spot mid for one wall-clock second (``ts_bucket`` ns, second boundary)."""

    ts_bucket: int
    mid: Decimal | None
    quality: Quality
    reason: str = ""
    venues_used: list[str] = []
    venue_mids: list[VenueMid] = []
    divergence_bps: Decimal | None = None


class SmilePoint(msgspec.Struct, frozen=True, kw_only=True):
    strike: Decimal
    option_type: OptionType
    mark_iv: Decimal | None
    bid_iv: Decimal | None
    ask_iv: Decimal | None
    delta: Decimal | None


class RejectCount(msgspec.Struct, frozen=True, kw_only=True):
    reason: str
    count: int


class IVSurfaceSnapshot(EventBase, frozen=True, tag="iv_surface_snapshot"):
    """ATM IV and smile for one expiry at one snapshot time (``ts_bucket`` ns)."""

    ts_bucket: int
    expiry_ns: int
    forward: Decimal | None
    atm_iv: Decimal | None
    lower_strike: Decimal | None = None
    lower_iv: Decimal | None = None
    upper_strike: Decimal | None = None
    upper_iv: Decimal | None = None
    smile: list[SmilePoint] = []
    dvol: Decimal | None = None
    quotes_seen: int = 0
    quotes_used: int = 0
    rejected: list[RejectCount] = []
    widest_spread_used: Decimal | None = None
    bracket_width: Decimal | None = None
    quality: Quality = "Ok"
    reason: str = ""


Event: TypeAlias = (
    BBO
    | Trade
    | OptionTicker
    | VolIndex
    | MarkPrice
    | ConnectionStatus
    | SequenceGap
    | Rejected
    | SpotMid
    | IVSurfaceSnapshot
)

EVENT_TYPES: tuple[type[EventBase], ...] = (
    BBO,
    Trade,
    OptionTicker,
    VolIndex,
    MarkPrice,
    ConnectionStatus,
    SequenceGap,
    Rejected,
    SpotMid,
    IVSurfaceSnapshot,
)
KIND_OF: dict[type[EventBase], str] = {
    t: t.__struct_config__.tag for t in EVENT_TYPES  # type: ignore[misc]
}
TYPE_OF_KIND: dict[str, type[EventBase]] = {k: t for t, k in KIND_OF.items()}
KINDS: frozenset[str] = frozenset(KIND_OF.values())
DERIVED_KINDS: frozenset[str] = frozenset({"spot_mid_1s", "iv_surface_snapshot"})

_force_setattr = msgspec.structs.force_setattr


def stamp_seq(event: EventBase, seq: int) -> None:
    """Set the router's sequence number on a frozen event (router only, before fan-out)."""
    _force_setattr(event, "seq", seq)


def kind_of(event: EventBase) -> str:
    """The event's tag, which is also its Parquet stream name."""
    return KIND_OF[type(event)]


_encoder = msgspec.json.Encoder(decimal_format="string")
_decoder = msgspec.json.Decoder(list[Event])


def encode_events(events: list[EventBase]) -> bytes:
    """JSON with exact decimals as strings: used by recordings, the demo and tests."""
    return _encoder.encode(events)


def decode_events(data: bytes) -> list[EventBase]:
    return list(_decoder.decode(data))
