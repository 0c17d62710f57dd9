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
from operator import itemgetter
from typing import Callable, Iterable, cast

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


# Unbound C methods: map() calls them without a Python frame, and they raise TypeError for None
# or anything that is not a Decimal (typed for what they accept at run time).
_is_finite = cast(Callable[[object], bool], Decimal.is_finite)
_adjusted = cast(Callable[[object], int], Decimal.adjusted)
_SANE_EXPONENTS = frozenset(range(MIN_ADJUSTED_EXPONENT, MAX_ADJUSTED_EXPONENT + 1))


def sane(values: tuple[Decimal | None, ...]) -> bool:
    """True if :func:`finite` passes every value and each is a Decimal, in one pass over all.

    False means "look closer", not "bad": it is also False for a None (absent, which
    :func:`finite` passes) and for a zero written with an extreme exponent (``0E-50``, which
    :func:`finite` passes too). Callers therefore use it only as the fast path in front of the
    field-by-field check, as :class:`FieldChecks` does. Nothing here depends on the decimal
    context: ``is_finite`` and ``adjusted`` are exact (``adjusted`` is 0 for NaN and Infinity,
    which is why finiteness is tested first).
    """
    try:
        return all(map(_is_finite, values)) and _SANE_EXPONENTS.issuperset(map(_adjusted, values))
    except TypeError:  # None, or a value that is not a Decimal
        return False


def _true(values: tuple[Decimal | None, ...]) -> bool:
    return True


def _sign_test(indexes: list[int], strict: bool) -> Callable[[tuple[Decimal | None, ...]], bool]:
    """Whether the values at ``indexes`` are all > 0 (``strict``) or >= 0; the values are known
    to be finite Decimals when it runs, so the comparisons are exact and cannot raise."""
    if not indexes:
        return _true
    if len(indexes) == 1:
        (i,) = indexes
        return (lambda v: v[i] > 0) if strict else (lambda v: v[i] >= 0)  # type: ignore[operator]
    pick = itemgetter(*indexes)
    return (lambda v: min(pick(v)) > 0) if strict else (lambda v: min(pick(v)) >= 0)


class FieldChecks:
    """The fields of one kind of event, each with its check, checked in one call.

    ``FieldChecks(("p", positive), ("r", finite)).check((p, r))`` returns exactly what
    ``check_fields((("p", p, positive), ("r", r, finite)))`` returns, for every input: a good
    event (the common case) costs one :func:`sane` pass plus one sign comparison per group of
    :func:`positive` and :func:`non_negative` fields; anything else (a refused value, a None, an
    unusual zero) goes through :func:`check_fields` to find the first failing field, so reason,
    field and value text are those of the field-by-field check. Checks other than these three
    are called field by field on the fast path too.
    """

    __slots__ = ("names", "checks", "_positive", "_non_negative", "_others")

    def __init__(self, *fields: tuple[str, Check]) -> None:
        self.names = tuple(name for name, _ in fields)
        self.checks = tuple(check for _, check in fields)
        pos = [i for i, c in enumerate(self.checks) if c is positive]
        non_neg = [i for i, c in enumerate(self.checks) if c is non_negative]
        self._positive = _sign_test(pos, strict=True)
        self._non_negative = _sign_test(non_neg, strict=False)
        self._others = tuple((i, c) for i, c in enumerate(self.checks) if c not in (finite, positive, non_negative))

    def _others_pass(self, values: tuple[Decimal | None, ...]) -> bool:
        return not any(check(values[i]) for i, check in self._others)

    def check(self, values: tuple[Decimal | None, ...]) -> tuple[str, str, str]:
        """``(reason, field, value text)`` of the first failing field (in declaration order), or
        ``("", "", "")``; ``values`` are in the order of the fields."""
        if (len(values) == len(self.names) and sane(values) and self._positive(values)
                and self._non_negative(values) and (not self._others or self._others_pass(values))):
            return _OK
        return check_fields(zip(self.names, values, self.checks, strict=True))


__all__ = [
    "REASONS", "FieldChecks", "finite", "check_fields", "non_negative", "positive", "quote", "sane", "timestamp",
    "trade",
]
