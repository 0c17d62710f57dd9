"""``mdi.validate``: the checks every connector (first- and third-party) uses at the edge."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mdi import validate
from mdi.validate import check_fields, finite, non_negative, positive, quote, timestamp

D = Decimal


@pytest.mark.parametrize(
    ("value", "finite_", "positive_", "non_negative_"),
    [
        (D("67000.1"), "", "", ""),
        (D("0"), "", "not_positive", ""),
        (D("-0.00012"), "", "not_positive", "negative"),
        (D("NaN"), "non_finite", "non_finite", "non_finite"),
        (D("sNaN"), "non_finite", "non_finite", "non_finite"),
        (D("-Infinity"), "non_finite", "non_finite", "non_finite"),
        (D("1E+31"), "out_of_range", "out_of_range", "out_of_range"),
        (D("1E-31"), "out_of_range", "out_of_range", "out_of_range"),
        (D("1E+30"), "", "", ""),
        (None, "", "", ""),  # absent optional value: nothing to refuse
    ],
)
def test_each_check_returns_a_reason_never_raises(value: Decimal | None, finite_: str, positive_: str, non_negative_: str) -> None:
    assert (finite(value), positive(value), non_negative(value)) == (finite_, positive_, non_negative_)


def test_a_value_of_the_wrong_type_is_not_a_number() -> None:
    assert finite("67000.1") == "not_a_number"  # type: ignore[arg-type]


def test_timestamps_before_2001_are_placeholders() -> None:
    assert timestamp(0) == timestamp(1_000) == "placeholder_timestamp"
    assert timestamp(1_796_000_000_000_000_000) == "" and timestamp(None) == ""


def test_quote_checks_every_side_and_knows_the_zero_placeholder() -> None:
    assert quote(D("1"), D("0.5"), D("1.1"), D("0")) == ("", "", "")  # an empty ask size is a quote
    assert quote(D("0"), D("0"), D("0.0"), D("0E-8")) == ("placeholder_quote", "bid", "0/0.0")
    assert quote(D("1"), D("1"), D("-1"), D("1")) == ("not_positive", "ask", "-1")
    assert quote(D("1"), D("NaN"), D("1"), D("1")) == ("non_finite", "bid_qty", "NaN")


def test_check_fields_names_the_first_failing_field() -> None:
    fields = (("price", D("1"), positive), ("size", D("-2"), positive), ("rate", D("NaN"), finite))
    assert check_fields(fields) == ("not_positive", "size", "-2")
    assert check_fields((("rate", D("-0.0001"), finite),)) == ("", "", "")


def test_every_reason_is_documented_in_the_schema_and_operations_pages() -> None:
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs"
    for page in ("schema.md", "operations.md"):
        text = (docs / page).read_text()
        for reason in validate.REASONS:
            assert f"`{reason}`" in text, (page, reason)


@pytest.mark.parametrize(
    ("price", "size", "expected"),
    [
        ("97000.01", "0.1", ("", "", "")),
        ("NaN", "0.1", ("non_finite", "price", "NaN")),
        ("Infinity", "0.1", ("non_finite", "price", "Infinity")),
        ("97000.01", "sNaN", ("non_finite", "size", "sNaN")),
        ("-97000", "0.1", ("not_positive", "price", "-97000")),
        ("97000", "0", ("not_positive", "size", "0")),
        ("1E+400", "0.1", ("out_of_range", "price", "1E+400")),
    ],
)
def test_trade_fast_path_agrees_with_the_field_checks(price: str, size: str, expected: tuple[str, str, str]) -> None:
    assert validate.trade(D(price), D(size)) == expected
    assert check_fields((("price", D(price), positive), ("size", D(size), positive))) == expected
