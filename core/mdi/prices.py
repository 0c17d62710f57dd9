"""Exact Decimal <-> scaled-integer conversion: the one place that decides how prices round (never).

Parquet DECIMAL columns and any integer wire format store ``value * 10**scale`` as an integer.
Conversion is exact or it raises: a recorder that silently rounds a price is not one users trust.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MAX_DECIMAL128_DIGITS = 38


class InexactPriceError(ValueError):
    """A value has more fractional digits than the configured scale (or is not finite)."""


def to_scaled(value: Decimal, scale: int) -> int:
    """Return ``value * 10**scale`` as an int; raise :class:`InexactPriceError` if not exact."""
    if not value.is_finite():
        raise InexactPriceError(f"{value!r} is not a finite number")
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    shift = exponent + scale
    coefficient = int("".join(map(str, digits)) or "0")
    if shift >= 0:
        result = coefficient * 10**shift
    else:
        divisor = 10**-shift
        result, remainder = divmod(coefficient, divisor)
        if remainder:
            raise InexactPriceError(f"{value} does not fit scale {scale} without rounding")
    return -result if sign else result


def from_scaled(value: int, scale: int) -> Decimal:
    """Inverse of :func:`to_scaled`."""
    return Decimal(value).scaleb(-scale)


def fits_scale(value: Decimal, scale: int) -> bool:
    """True when ``value`` can be stored at ``scale`` without rounding."""
    try:
        to_scaled(value, scale)
    except InexactPriceError:
        return False
    return True


def parse_decimal(text: str) -> Decimal:
    """Decimal from venue text; raises ValueError (not InvalidOperation) on garbage."""
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal number: {text!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite decimal: {text!r}")
    return value
