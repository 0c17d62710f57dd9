"""Checks for venue values at the edge, for first-party and third-party connectors alike.

A venue's text becomes a ``Decimal`` exactly, but ``Decimal`` also reads ``NaN``, ``Infinity``
and ``1E+999999``, and venues send zeros and epoch timestamps as placeholders. None of those is
a price: each check here returns ``""`` for a good value or a short *reason* (a metric label,
``mdi_venue_invalid_total{venue,reason}``) for a bad one, and never raises, so a session can
check field by field and reject one trade of a frame while keeping the others.

What may legitimately be zero or negative (know the venue): Deribit combo and option-spread
prices, greeks (theta), funding rates and basis can be negative; an IV is finite but Deribit
uses ``0.0`` (empty side) and ``500.0`` (expired) as sentinels; a size of zero on a quote side
means an empty side. Use :func:`finite` for those, :func:`positive` for prices and trade sizes,
:func:`non_negative` for quote sizes and open interest.

A session reports a rejection with :meth:`mdi.connector.VenueSession.invalid`: it is counted,
logged rate-limited, and kept with the raw frame as a :class:`mdi.events.Rejected` event.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Callable, Iterable

# A price beyond 10^30 or finer than 10^-30 is not a market value: it is a unit or encoding
# error, and no DECIMAL(38, s) column holds it exactly. Such values are refused at the edge.
MAX_ADJUSTED_EXPONENT = 30
MIN_ADJUSTED_EXPONENT = -30
# Venue timestamps before 2001-09-09 (1e9 s) are placeholders (Kraken sends 1970-01-01).
MIN_TIMESTAMP_NS = 1_000_000_000 * 1_000_000_000

NON_FINITE = "non_finite"
OUT_OF_RANGE = "out_of_range"
NOT_POSITIVE = "not_positive"
NEGATIVE = "negative"
PLACEHOLDER_QUOTE = "placeholder_quote"
PLACEHOLDER_TIMESTAMP = "placeholder_timestamp"
NOT_A_NUMBER = "not_a_number"

REASONS: tuple[str, ...] = (
    NON_FINITE, OUT_OF_RANGE, NOT_POSITIVE, NEGATIVE, PLACEHOLDER_QUOTE, PLACEHOLDER_TIMESTAMP, NOT_A_NUMBER,
)


def finite(value: Decimal | None) -> str:
    """``""`` for a finite Decimal of sane magnitude (or None: absent); else the reason."""
    if value is None:
        return ""
    if not isinstance(value, Decimal):
        return NOT_A_NUMBER
    if not value.is_finite():
        return NON_FINITE
    if value and not MIN_ADJUSTED_EXPONENT <= value.adjusted() <= MAX_ADJUSTED_EXPONENT:
        return OUT_OF_RANGE
    return ""


def positive(value: Decimal | None) -> str:
    """Prices and trade sizes: finite and > 0 (None passes: an absent optional value)."""
    reason = finite(value)
    if reason or value is None:
        return reason
    return "" if value > 0 else NOT_POSITIVE


def non_negative(value: Decimal | None) -> str:
    """Quote sizes, open interest: finite and >= 0."""
    reason = finite(value)
    if reason or value is None:
        return reason
    return "" if value >= 0 else NEGATIVE


def timestamp(ts_ns: int | None) -> str:
    """A venue timestamp (ns since the epoch): ``placeholder_timestamp`` for 0 / 1970-era values."""
    if ts_ns is None:
        return ""
    return "" if ts_ns >= MIN_TIMESTAMP_NS else PLACEHOLDER_TIMESTAMP


Check = Callable[[Decimal | None], str]


def check_fields(fields: Iterable[tuple[str, Decimal | None, Check]]) -> tuple[str, str, str]:
    """``(reason, field, value text)`` of the first ``(field, value, check)`` that fails, or
    ``("", "", "")``: one call per event checks every field the venue sent."""
    for name, value, check in fields:
        reason = check(value)
        if reason:
            return reason, name, str(value)
    return "", "", ""


_OK = ("", "", "")
_FAST_ERRORS = (InvalidOperation, AttributeError, TypeError)  # NaN compared, not a Decimal


def _sane(value: Decimal) -> bool:
    """Finite and of sane magnitude (zero is sane): the common case, checked without a call
    chain (this runs for every price the venues send)."""
    return value.is_finite() and (not value or MIN_ADJUSTED_EXPONENT <= value.adjusted() <= MAX_ADJUSTED_EXPONENT)


def quote(bid_px: Decimal, bid_sz: Decimal, ask_px: Decimal, ask_sz: Decimal) -> tuple[str, str, str]:
    """A two-sided quote (BBO): ``("", "", "")`` or ``(reason, field, text)`` of the first bad field.

    Every price and size zero is a placeholder (Kraken's unquoted pairs), not a quote; otherwise
    prices must be > 0 and sizes >= 0. Fields are named ``bid``, ``ask``, ``bid_qty``, ``ask_qty``.
    """
    try:  # fast path: a good quote costs a few comparisons
        if (bid_px > 0 and ask_px > 0 and bid_sz >= 0 and ask_sz >= 0 and _sane(bid_px) and _sane(ask_px)
                and _sane(bid_sz) and _sane(ask_sz)):
            return _OK
    except _FAST_ERRORS:
        pass
    values = (bid_px, ask_px, bid_sz, ask_sz)
    if all(isinstance(v, Decimal) and v.is_finite() and not v for v in values):
        return PLACEHOLDER_QUOTE, "bid", f"{bid_px}/{ask_px}"
    return check_fields((("bid", bid_px, positive), ("ask", ask_px, positive),
                         ("bid_qty", bid_sz, non_negative), ("ask_qty", ask_sz, non_negative)))


def trade(price: Decimal, size: Decimal, price_field: str = "price", size_field: str = "size") -> tuple[str, str, str]:
    """A trade's price and size, both > 0: ``("", "", "")`` or ``(reason, field, text)``."""
    try:
        if price > 0 and size > 0 and _sane(price) and _sane(size):
            return _OK
    except _FAST_ERRORS:
        pass
    return check_fields(((price_field, price, positive), (size_field, size, positive)))


__all__ = [
    "REASONS", "finite", "check_fields", "non_negative", "positive", "quote", "timestamp", "trade",
]
