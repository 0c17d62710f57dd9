"""Decimal <-> scaled integers: exact, or an error."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdi.events import BBO, decode_events, encode_events
from mdi.prices import InexactPriceError, fits_scale, from_scaled, parse_decimal, to_scaled
from mdi.timeutil import parse_rfc3339_ns


@pytest.mark.parametrize(
    ("text", "scale", "scaled"),
    [("0.10000000", 8, 10_000_000), ("68500.0", 2, 6_850_000), ("-1.5", 1, -15), ("1.423E-4", 8, 14_230), ("100", 0, 100)],
)
def test_exact_values_scale(text: str, scale: int, scaled: int) -> None:
    assert to_scaled(Decimal(text), scale) == scaled
    assert from_scaled(scaled, scale) == Decimal(text)


def test_inexact_values_raise_instead_of_rounding() -> None:
    with pytest.raises(InexactPriceError, match="does not fit scale 2"):
        to_scaled(Decimal("1.005"), 2)
    assert not fits_scale(Decimal("1.005"), 2)
    with pytest.raises(InexactPriceError):
        to_scaled(Decimal("NaN"), 2)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=8, min_value=-10**12, max_value=10**12))
def test_round_trip(value: Decimal) -> None:
    assert from_scaled(to_scaled(value, 8), 8) == value


def test_parse_decimal_rejects_garbage_with_valueerror() -> None:
    assert parse_decimal("0.00010000") == Decimal("0.0001")
    with pytest.raises(ValueError, match="not a decimal"):
        parse_decimal("12,5")
    with pytest.raises(ValueError, match="not a finite"):
        parse_decimal("Infinity")


def test_events_round_trip_exactly_through_json() -> None:
    bbo = BBO(venue="kraken", symbol="BTC-USD", ts_recv=1, bid_px=Decimal("68500.10"), bid_sz=Decimal("0.10000000"),
              ask_px=Decimal("68500.2"), ask_sz=Decimal("1E-8"))
    back = decode_events(encode_events([bbo]))[0]
    assert back == bbo and str(back.bid_sz) == "0.10000000"


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2024-05-27T12:33:10.826003Z", 1716813190826003000),
        ("2025-12-31T10:00:00.71649013Z", 1767175200716490130),
        ("2025-12-31T10:00:00.44524Z", 1767175200445240000),
        ("2023-01-01T00:00:00Z", 1672531200000000000),
        ("2023-01-01T01:00:00.5+01:00", 1672531200500000000),
    ],
)
def test_rfc3339_to_ns_keeps_every_digit(text: str, ns: int) -> None:
    assert parse_rfc3339_ns(text) == ns


@pytest.mark.parametrize("text", ["", "2023-01-01", "2023-01-01T00:00:00.1234567890Z", "yesterday at noon!!"])
def test_rfc3339_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339_ns(text)
