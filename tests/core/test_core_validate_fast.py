"""``mdi.validate.FieldChecks`` and ``sane`` (the one-pass fast path) agree with the field-by-field checks."""

from __future__ import annotations

import itertools
import random
from decimal import Decimal

import pytest

from mdi.validate import Check, FieldChecks, check_fields, finite, non_negative, positive, sane

D = Decimal

TRICKY: list[object] = [
    None, D("0"), D("-0"), D("0.0"), D("-0.0"), D("0E-50"), D("0E+50"), D("0E-31"), D("1"), D("-1"),
    D("67000.1"), D("-0.00012"), D("0.00001"), D("NaN"), D("-NaN"), D("sNaN"), D("NaN123"), D("Infinity"),
    D("-Infinity"), D("1E+30"), D("9.999999999999999999999999999999999E+30"), D("1E+31"), D("-1E+31"),
    D("1E-30"), D("-1E-30"), D("1E-31"), D("9.99999999999999999999999999999999E-31"), D("1E+999999"),
    D("1E-999999"), D("1E+9999999999"), D("100000000000000000000000000000000000000000"), D("500.0"),
    0.0, 0, 1.5, "1", False, True,
]  # fmt: skip
CHECKS: list[Check] = [finite, positive, non_negative]


def expected(fields: tuple[tuple[str, Check], ...], values: tuple[object, ...]) -> tuple[str, str, str]:
    return check_fields((name, value, check) for (name, check), value in zip(fields, values))  # type: ignore[misc]


@pytest.mark.parametrize("check", CHECKS)
def test_one_field_agrees_on_every_tricky_value(check: Check) -> None:
    fields = (("x", check),)
    for value in TRICKY:
        assert FieldChecks(*fields).check((value,)) == expected(fields, (value,)), value  # type: ignore[arg-type]


def test_sane_is_true_only_for_values_finite_passes() -> None:
    for value in TRICKY:
        if sane((value,)):  # type: ignore[arg-type]
            assert isinstance(value, Decimal) and finite(value) == ""
    assert sane((D("1"), D("-2.5"), D("0.0"), D("1E-30"), D("1E+30")))
    assert not sane((D("1"), None)) and not sane((D("0E-50"),))  # None, odd zero: look closer


def test_pairs_of_tricky_values_with_every_pair_of_checks() -> None:
    for c1, c2 in itertools.product(CHECKS, repeat=2):
        fields = (("a", c1), ("b", c2))
        fc = FieldChecks(*fields)
        for v1, v2 in itertools.product(TRICKY, repeat=2):
            assert fc.check((v1, v2)) == expected(fields, (v1, v2)), (c1, c2, v1, v2)  # type: ignore[arg-type]


def test_random_events_agree_including_first_failing_field() -> None:
    rng = random.Random(18)
    good = [D("1"), D("0.0564"), D("97011.16"), D("-25.6"), D("0"), D("1e-05")]
    for n in (3, 4, 16):
        fields = tuple((f"f{i}", rng.choice(CHECKS)) for i in range(n))
        fc = FieldChecks(*fields)
        for _ in range(2000):
            values = [rng.choice(good) for _ in range(n)]
            for _ in range(rng.choice((0, 0, 1, 2))):
                values[rng.randrange(n)] = rng.choice(TRICKY)
            assert fc.check(tuple(values)) == expected(fields, tuple(values)), values  # type: ignore[arg-type]


def test_other_checks_are_called_on_the_fast_path() -> None:
    def never(value: Decimal | None) -> str:
        return "custom"

    fields = (("a", positive), ("b", never))
    assert FieldChecks(*fields).check((D("1"), D("1"))) == ("custom", "b", "1")


def test_a_wrong_number_of_values_is_an_error() -> None:
    with pytest.raises(ValueError):
        FieldChecks(("a", finite), ("b", finite)).check((D("1"),))
