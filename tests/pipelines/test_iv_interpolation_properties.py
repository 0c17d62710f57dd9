"""Property tests of the ATM interpolation (linear in log-moneyness, Decimal ``ln``)."""

from __future__ import annotations

import math
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from mdi_iv_surface.config import IVSurfaceConfig
from mdi_iv_surface.surface import build_snapshots, interpolate_atm
from pipelines_support import CALL_PUT, MS, S, T0, option

PROPERTY = settings(deadline=None, max_examples=100)  # no deadline: CI boxes are busy

strikes = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2)
gaps = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("200000"), places=2)
ivs = st.decimals(min_value=Decimal("1"), max_value=Decimal("400"), places=2)
fractions = st.decimals(min_value=Decimal(0), max_value=Decimal(1), places=6)
places = st.integers(min_value=2, max_value=8)


def forward_between(k1: Decimal, k2: Decimal, fraction: Decimal) -> Decimal:
    """A 2-place forward in [k1, k2] (both ends are representable, so rounding stays inside)."""
    return (k1 + fraction * (k2 - k1)).quantize(Decimal("0.01"))


@PROPERTY
@given(strikes, gaps, fractions, ivs, ivs, places)
def test_atm_iv_lies_between_the_bracket_ivs(
    k1: Decimal, gap: Decimal, fraction: Decimal, iv1: Decimal, iv2: Decimal, n: int
) -> None:
    k2 = k1 + gap
    atm = interpolate_atm(forward_between(k1, k2, fraction), k1, iv1, k2, iv2, Decimal(1).scaleb(-n))
    assert min(iv1, iv2) <= atm <= max(iv1, iv2)
    assert atm.as_tuple().exponent == -n  # always published at iv_places


@PROPERTY
@given(strikes, gaps, ivs, ivs, places)
def test_exact_at_a_strike_equal_to_the_forward(k1: Decimal, gap: Decimal, iv1: Decimal, iv2: Decimal, n: int) -> None:
    k2 = k1 + gap
    quantum = Decimal(1).scaleb(-n)
    assert interpolate_atm(k1, k1, iv1, k2, iv2, quantum) == iv1
    assert interpolate_atm(k2, k1, iv1, k2, iv2, quantum) == iv2
    assert interpolate_atm(k1, k1, iv1, k1, iv1, quantum) == iv1


@PROPERTY
@given(strikes, gaps, fractions, fractions, ivs, ivs)
def test_atm_iv_moves_monotonically_with_the_forward(
    k1: Decimal, gap: Decimal, fa: Decimal, fb: Decimal, iv1: Decimal, iv2: Decimal
) -> None:
    k2 = k1 + gap
    lo, hi = sorted((forward_between(k1, k2, fa), forward_between(k1, k2, fb)))
    q = Decimal("0.0001")
    change = interpolate_atm(hi, k1, iv1, k2, iv2, q) - interpolate_atm(lo, k1, iv1, k2, iv2, q)
    assert change * (iv2 - iv1) >= 0


@PROPERTY
@given(strikes, gaps, fractions, ivs, ivs)
def test_matches_the_float_formula_within_rounding(
    k1: Decimal, gap: Decimal, fraction: Decimal, iv1: Decimal, iv2: Decimal
) -> None:
    k2 = k1 + gap
    f = forward_between(k1, k2, fraction)
    atm = interpolate_atm(f, k1, iv1, k2, iv2, Decimal("0.0001"))
    w = math.log(float(f) / float(k1)) / math.log(float(k2) / float(k1))
    approx = float(iv1) + w * (float(iv2) - float(iv1))
    assert abs(float(atm) - approx) <= 0.00005 + 1e-9 * abs(approx) + 1e-6


@PROPERTY
@given(st.lists(st.integers(min_value=50, max_value=150), min_size=1, max_size=12, unique=True), st.data())
def test_snapshot_at_a_listed_strike_reports_that_strike_iv(strike_thousands: list[int], data: st.DataObject) -> None:
    now = T0 + 5 * MS
    at = data.draw(st.sampled_from(strike_thousands))
    quotes = [
        option(k * 1000, t, ts_recv=now - S, forward=str(at * 1000), mark_iv=f"{40 + k % 17}.{k % 100:02d}")
        for k in strike_thousands
        for t in CALL_PUT
    ]
    (snap,) = build_snapshots(IVSurfaceConfig(), quotes, None, now, T0)
    assert snap.lower_strike == snap.upper_strike == Decimal(at * 1000)
    assert snap.atm_iv == Decimal(f"{40 + at % 17}.{at % 100:02d}")
    assert snap.bracket_width == 0
