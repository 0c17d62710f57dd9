"""Scenario tests of the IV snapshot: exact expected events for brackets, filters and flags."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from mdi.events import IVSurfaceSnapshot, OptionTicker, OptionType, RejectCount, SmilePoint, VolIndex
from mdi_iv_surface.config import IVSurfaceConfig
from mdi_iv_surface.surface import (
    REJECT_REASONS,
    build_snapshots,
    find_bracket,
    interpolate_atm,
    relative_spread,
    screen,
)
from pipelines_support import CALL_PUT, EXPIRY, MS, S, T0, dvol, option

NOW = T0 + 5 * MS
FRESH = NOW - 1 * S
CFG = IVSurfaceConfig()  # stale 30 s, spread 0.25, IV 1..400, OI >= 0, width 10 %, 4 quotes, 4 places
Q4 = Decimal("0.0001")


def surface(
    *tickers: OptionTicker, config: IVSurfaceConfig = CFG, vol: VolIndex | None = None
) -> list[IVSurfaceSnapshot]:
    return build_snapshots(config, list(tickers), vol, NOW, T0)


def one(*tickers: OptionTicker, config: IVSurfaceConfig = CFG, vol: VolIndex | None = None) -> IVSurfaceSnapshot:
    snaps = surface(*tickers, config=config, vol=vol)
    assert len(snaps) == 1
    return snaps[0]


def chain(forward: str | None = "100250", **kw: object) -> list[OptionTicker]:
    """Calls and puts at 100000 (IV 50) and 101000 (IV 52), plus wings at 99000 C and 102000 P."""
    out = []
    rows: list[tuple[int, str, tuple[OptionType, ...]]] = [
        (99000, "49.00", ("C",)), (100000, "50.00", CALL_PUT), (101000, "52.00", CALL_PUT), (102000, "53.00", ("P",)),
    ]
    for strike, iv, types in rows:
        for t in types:
            out.append(option(strike, t, ts_recv=FRESH, forward=forward, mark_iv=iv, **kw))  # type: ignore[arg-type]
    return out


def point(strike: int, t: OptionType, iv: str) -> SmilePoint:
    return SmilePoint(
        strike=Decimal(strike), option_type=t, mark_iv=Decimal(iv), bid_iv=Decimal("49.50"),
        ask_iv=Decimal("50.50"), delta=Decimal("0.5"),
    )


def test_forward_between_strikes_interpolates_linearly_in_log_moneyness() -> None:
    got = one(*chain(), vol=dvol("55.12", NOW - 2 * S))
    # w = ln(100250/100000) / ln(101000/100000) = 0.2509343895...; 50 + 2 w = 50.50186877...
    assert got == IVSurfaceSnapshot(
        venue="mdi", symbol="BTC", ts_recv=NOW, ts_exchange=T0, ts_bucket=T0, expiry_ns=EXPIRY,
        forward=Decimal("100250"), atm_iv=Decimal("50.5019"),
        lower_strike=Decimal("100000"), lower_iv=Decimal("50.0000"),
        upper_strike=Decimal("101000"), upper_iv=Decimal("52.0000"),
        smile=[
            point(99000, "C", "49.00"), point(100000, "C", "50.00"), point(100000, "P", "50.00"),
            point(101000, "C", "52.00"), point(101000, "P", "52.00"), point(102000, "P", "53.00"),
        ],
        dvol=Decimal("55.12"), quotes_seen=6, quotes_used=6, rejected=[],
        widest_spread_used=Decimal("0.0392"),  # 2 * 0.002 / 0.102 = 0.039215...
        bracket_width=Decimal("1000"), quality="Ok", reason="",
    )
    assert str(got.atm_iv) == "50.5019"


def test_strike_exactly_at_the_forward_is_its_own_bracket() -> None:
    got = one(*chain(forward="101000"))
    assert (got.lower_strike, got.upper_strike) == (Decimal("101000"), Decimal("101000"))
    assert got.atm_iv == Decimal("52.0000") and str(got.atm_iv) == "52.0000"
    assert got.bracket_width == Decimal("0")
    assert (got.quality, got.reason) == ("Ok", "")


def test_forward_above_every_strike_has_no_bracket_and_is_suspect() -> None:
    got = one(*chain(forward="102500"))
    assert got.atm_iv is None
    assert (got.lower_strike, got.lower_iv) == (Decimal("102000"), Decimal("53.0000"))
    assert (got.upper_strike, got.upper_iv, got.bracket_width) == (None, None, None)
    assert (got.quality, got.reason) == ("Suspect", "no strike at or above forward")


def test_forward_below_every_strike_has_no_bracket_and_is_suspect() -> None:
    got = one(*chain(forward="98999.99"))
    assert got.atm_iv is None
    assert (got.lower_strike, got.upper_strike) == (None, Decimal("99000"))
    assert (got.quality, got.reason) == ("Suspect", "no strike at or below forward")


def test_no_forward_is_suspect() -> None:
    got = one(*chain(forward=None))
    assert (got.forward, got.atm_iv, got.lower_strike, got.upper_strike) == (None, None, None, None)
    assert got.quotes_used == 6
    assert (got.quality, got.reason) == ("Suspect", "no forward")


def test_no_usable_quote_is_suspect_and_counts_every_rejection() -> None:
    got = one(*chain(bid=None, bid_iv=None))
    assert (got.quotes_seen, got.quotes_used, got.smile) == (6, 0, [])
    assert got.rejected == [RejectCount(reason="no_bid", count=6)]
    assert got.forward == Decimal("100250")  # a rejected quote still carries the venue's forward
    assert (got.quality, got.reason, got.widest_spread_used) == ("Suspect", "no usable quotes", None)


def test_each_filter_reason_is_counted_once_under_the_first_failing_rule() -> None:
    config = IVSurfaceConfig(min_open_interest=Decimal("1"))
    quotes = [
        option(95000, "P", ts_recv=NOW - 30 * S),  # stale: exactly stale_after old
        option(95000, "C", ts_recv=NOW - 30 * S + 1),  # fresh by 1 ns: used
        option(96000, "P", ts_recv=FRESH, bid=None, ask=None, bid_iv=None, ask_iv=None),  # no_quote
        option(96000, "C", ts_recv=FRESH, bid="0.05", bid_amount="0"),  # no_bid (no size)
        option(97000, "P", ts_recv=FRESH, ask=None, ask_iv=None),  # no_ask
        option(97000, "C", ts_recv=FRESH, bid="0.0520", ask="0.0520"),  # crossed (locked)
        option(98000, "P", ts_recv=FRESH, bid="0.0400", ask="0.0520"),  # wide_spread: 0.2609
        option(98000, "C", ts_recv=FRESH, bid="0.0350", ask="0.0450"),  # spread exactly 0.25: used
        option(99000, "P", ts_recv=FRESH, mark_iv=None),  # no_iv
        option(99000, "C", ts_recv=FRESH, ask_iv="500.0"),  # iv_bounds (Deribit's 500 sentinel)
        option(100000, "P", ts_recv=FRESH, bid_iv="1", ask_iv="400"),  # bounds inclusive: used
        option(100000, "C", ts_recv=FRESH, open_interest="0.9"),  # low_open_interest
        option(101000, "P", ts_recv=FRESH, open_interest="1"),  # at the minimum: used
        option(101000, "C", ts_recv=FRESH, open_interest=None),  # missing OI counts as 0
    ]
    got = one(*quotes, config=config)
    assert got.rejected == [
        RejectCount(reason=r, count=n)
        for r, n in [
            ("stale", 1), ("no_quote", 1), ("no_bid", 1), ("no_ask", 1), ("crossed", 1), ("wide_spread", 1),
            ("no_iv", 1), ("iv_bounds", 1), ("low_open_interest", 2),
        ]
    ]
    assert [r.reason for r in got.rejected] == list(REJECT_REASONS)
    assert [(p.strike, p.option_type) for p in got.smile] == [
        (Decimal(95000), "C"), (Decimal(98000), "C"), (Decimal(100000), "P"), (Decimal(101000), "P"),
    ]
    assert (got.quotes_seen, got.quotes_used) == (14, 4)
    assert got.widest_spread_used == Decimal("0.2500")
    assert (got.atm_iv, got.quality) == (Decimal("50.0000"), "Ok")


def test_iv_bounds_apply_to_mark_bid_and_ask_inclusively() -> None:
    config = IVSurfaceConfig(min_iv=Decimal("10"), max_iv=Decimal("100"))
    for fields, reason in [
        ({"mark_iv": "10", "bid_iv": "10", "ask_iv": "100"}, ""),
        ({"mark_iv": "9.99"}, "iv_bounds"),
        ({"bid_iv": "9.99"}, "iv_bounds"),
        ({"ask_iv": "100.01"}, "iv_bounds"),
        ({"bid_iv": None}, "no_iv"),
        ({"ask_iv": None}, "no_iv"),
    ]:
        got, _ = screen(option(100000, ts_recv=FRESH, **fields), NOW, 30 * S, config)  # type: ignore[arg-type]
        assert got == reason, fields


def test_strike_iv_is_the_mean_of_call_and_put_quantized_half_even() -> None:
    quotes = [
        option(100000, "C", ts_recv=FRESH, mark_iv="50.00"),
        option(100000, "P", ts_recv=FRESH, mark_iv="50.01"),
        option(101000, "C", ts_recv=FRESH, mark_iv="52.00"),
        option(101000, "P", ts_recv=FRESH, mark_iv="52.00"),
    ]
    config = IVSurfaceConfig(iv_places=2)
    got = one(*quotes, config=config)
    assert str(got.lower_iv) == "50.00"  # 50.005 -> 50.00 (half even)
    assert str(got.upper_iv) == "52.00"
    assert str(got.atm_iv) == "50.50"  # 50 + 2 * 0.2509... = 50.5019 -> 50.50


def test_wide_bracket_and_few_quotes_are_degraded() -> None:
    quotes = [option(90000, "P", ts_recv=FRESH, mark_iv="60.00"), option(111000, "C", ts_recv=FRESH, mark_iv="48.00")]
    got = one(*quotes)
    assert got.bracket_width == Decimal("21000")
    assert got.quality == "Degraded"
    assert got.reason == "bracket width 21000 > 0.1 x forward; only 2 quotes used < 4"
    # w = ln(100250/90000) / ln(111000/90000) = 0.514291...; 60 - 12 w = 53.82850...
    assert got.atm_iv == Decimal("53.8285")


def test_bracket_width_exactly_at_the_limit_is_ok() -> None:
    quotes = [option(k, t, ts_recv=FRESH, forward="100000") for k in (95000, 105000) for t in CALL_PUT]
    got = one(*quotes)
    assert got.bracket_width == Decimal("10000")  # exactly 0.1 x forward
    assert (got.quality, got.reason) == ("Ok", "")


def test_freshest_ticker_gives_the_forward_even_if_rejected() -> None:
    quotes = [
        option(100000, "C", ts_recv=FRESH - 5 * S, forward="100100"),
        option(100000, "P", ts_recv=FRESH, forward="100200", bid=None),  # rejected (no_bid), freshest
        option(101000, "C", ts_recv=FRESH - 1 * S, forward="100150"),
        option(101000, "P", ts_recv=NOW - 31 * S, forward="100999"),  # stale: never the forward
    ]
    assert one(*quotes).forward == Decimal("100200")


def test_equal_receive_times_pick_the_forward_by_instrument_name() -> None:
    quotes = [option(100000, "P", ts_recv=FRESH, forward="1"), option(100000, "C", ts_recv=FRESH, forward="2")]
    assert one(*quotes).forward == Decimal("1")  # "...-100000-P" > "...-100000-C"


def test_expiries_are_separate_sorted_and_expired_or_foreign_quotes_ignored() -> None:
    near = EXPIRY - 20 * 86_400 * S
    quotes = [
        *chain(),
        option(100000, "C", ts_recv=FRESH, expiry_ns=near, forward="100050"),
        option(100000, "C", ts_recv=FRESH, expiry_ns=NOW, forward="100000"),  # expired at NOW
        option(3500, "C", ts_recv=FRESH, underlying="ETH", forward="3510"),
        option(100000, "C", ts_recv=FRESH, underlying="BTC_USDC", forward="100000"),
        option(100000, "C", ts_recv=FRESH, venue="okx"),
    ]
    snaps = surface(*quotes)
    assert [(s.expiry_ns, s.quotes_seen, s.forward) for s in snaps] == [
        (near, 1, Decimal("100050")), (EXPIRY, 6, Decimal("100250")),
    ]
    assert snaps[0].reason == "no strike at or above forward; only 1 quotes used < 4"


def test_dvol_is_reported_while_fresh_and_only_for_the_configured_index() -> None:
    assert one(*chain(), vol=dvol("55.12", NOW - 60 * S + 1)).dvol == Decimal("55.12")
    assert one(*chain(), vol=dvol("55.12", NOW - 60 * S)).dvol is None
    assert one(*chain(), vol=None).dvol is None


def test_relative_spread_and_bracket_helpers() -> None:
    assert relative_spread(Decimal("0.0350"), Decimal("0.0450")) == Decimal("0.25")
    assert relative_spread(Decimal("0.05"), Decimal("0.052")) == Decimal("0.0392")
    strikes = [Decimal(k) for k in (90000, 95000, 100000, 105000)]
    assert find_bracket(strikes, Decimal("97500")) == (Decimal(95000), Decimal(100000))
    assert find_bracket(strikes, Decimal("100000")) == (Decimal(100000), Decimal(100000))
    assert find_bracket(strikes, Decimal("80000")) == (None, Decimal(90000))
    assert find_bracket([], Decimal("80000")) == (None, None)


def test_interpolation_rejects_a_forward_outside_its_bracket() -> None:
    with pytest.raises(ValueError, match="not bracketed"):
        interpolate_atm(Decimal(3), Decimal(1), Decimal(50), Decimal(2), Decimal(60), Q4)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"interval": -1}, "interval"),
        ({"underlying": ""}, "underlying"),
        ({"stale_after": 0}, "stale_after"),
        ({"max_rel_spread": "-0.1"}, "max_rel_spread"),
        ({"min_iv": "500"}, "min_iv must be <= max_iv"),
        ({"min_quotes_used": -1}, "min_quotes_used"),
        ({"iv_places": 13}, "iv_places"),
    ],
)
def test_config_rejects_values_that_cannot_work(fields: dict[str, object], message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=message):
        msgspec.convert(fields, IVSurfaceConfig)
