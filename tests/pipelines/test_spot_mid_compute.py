"""Scenario tests of the consolidated spot mid: exact expected events for every quality rule."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from mdi.events import BBO, SpotMid, VenueMid
from mdi_spot_mid.compute import consolidate, divergence_bps, half_sum, median
from mdi_spot_mid.config import SpotMidConfig
from pipelines_support import MS, S, T0, bbo

NOW = T0 + 5 * MS  # the tick runs 5 ms after the boundary it stands for
CFG = SpotMidConfig()  # kraken + coinbase, stale_after 5 s, max 10 bps, 8 places


def snap(*quotes: BBO, config: SpotMidConfig = CFG, now: int = NOW) -> SpotMid:
    return consolidate(config, {(q.venue, q.symbol): q for q in quotes}, now, T0)


def expected(**fields: object) -> SpotMid:
    base: dict[str, object] = dict(venue="mdi", symbol="BTC-USD", ts_recv=NOW, ts_exchange=T0, ts_bucket=T0)
    base.update(fields)
    return SpotMid(**base)  # type: ignore[arg-type]


def vm(venue: str, mid: str | None, age_ms: int | None, fresh: bool = True, reason: str = "") -> VenueMid:
    return VenueMid(venue=venue, mid=None if mid is None else Decimal(mid), age_ms=age_ms, fresh=fresh, reason=reason)


def test_two_fresh_venues_give_the_exact_median_and_ok() -> None:
    got = snap(
        bbo("kraken", "99999.9", "100000.1", NOW - 250 * MS),
        bbo("coinbase", "100000.00", "100000.02", NOW - 40 * MS),
    )
    assert got == expected(
        mid=Decimal("100000.005"), quality="Ok", reason="", venues_used=["kraken", "coinbase"],
        venue_mids=[vm("kraken", "100000.0", 250), vm("coinbase", "100000.01", 40)],
        divergence_bps=Decimal("0.00"),
    )
    assert str(got.mid) == "100000.00500000"  # quantized to price_places = 8
    assert str(got.divergence_bps) == "0.00"  # 0.00099999995 bps, quantized to 0.01


def test_freshness_edge_exactly_at_stale_after_is_stale() -> None:
    stale_ns = 5 * S
    got = snap(
        bbo("kraken", "100000.0", "100000.2", NOW - stale_ns),
        bbo("coinbase", "100000.10", "100000.12", NOW - stale_ns + 1),
    )
    assert got == expected(
        mid=Decimal("100000.11"), quality="Degraded", reason="kraken: stale; only one usable venue",
        venues_used=["coinbase"],
        venue_mids=[vm("kraken", "100000.1", 5000, fresh=False, reason="stale"), vm("coinbase", "100000.11", 4999)],
        divergence_bps=None,
    )


def test_one_nanosecond_younger_than_stale_after_is_fresh() -> None:
    got = snap(
        bbo("kraken", "100000.0", "100000.2", NOW - 5 * S + 1),
        bbo("coinbase", "100000.10", "100000.12", NOW),
    )
    assert got.quality == "Ok"
    assert got.venues_used == ["kraken", "coinbase"]
    assert [v.age_ms for v in got.venue_mids] == [4999, 0]  # floor of 4999.999999 ms


def test_divergence_exactly_at_the_limit_is_ok() -> None:
    got = snap(bbo("kraken", "99949.9", "99950.1", NOW), bbo("coinbase", "100049.99", "100050.01", NOW))
    assert got.mid == Decimal("100000")
    assert str(got.divergence_bps) == "10.00"
    assert (got.quality, got.reason) == ("Ok", "")


def test_divergence_rounding_half_even_decides_with_the_published_value() -> None:
    # mids 99949.975 and 100050.025: median 100000, spread 100.05 -> exactly 10.005 bps -> 10.00
    got = snap(bbo("kraken", "99949.97", "99949.98", NOW), bbo("coinbase", "100050.02", "100050.03", NOW))
    assert str(got.divergence_bps) == "10.00"
    assert got.quality == "Ok"
    # mids 99949.925 and 100050.075: spread 100.15 -> exactly 10.015 bps -> 10.02 > 10
    got = snap(bbo("kraken", "99949.92", "99949.93", NOW), bbo("coinbase", "100050.07", "100050.08", NOW))
    assert got == expected(
        mid=Decimal("100000"), quality="Suspect", reason="divergence 10.02 bps > 10 bps",
        venues_used=["kraken", "coinbase"],
        venue_mids=[vm("kraken", "99949.925", 0), vm("coinbase", "100050.075", 0)],
        divergence_bps=Decimal("10.02"),
    )


def test_divergence_just_above_the_limit_is_suspect_but_keeps_the_mid() -> None:
    got = snap(bbo("kraken", "99949.8", "99950.0", NOW), bbo("coinbase", "100050.00", "100050.20", NOW))
    assert got.mid == Decimal("100000")
    assert got.divergence_bps == Decimal("10.02")
    assert (got.quality, got.reason) == ("Suspect", "divergence 10.02 bps > 10 bps")


def test_crossed_book_is_excluded_and_makes_the_snapshot_suspect() -> None:
    got = snap(
        bbo("kraken", "100001.0", "100000.0", NOW - 10 * MS),
        bbo("coinbase", "100000.10", "100000.12", NOW - 20 * MS),
    )
    assert got == expected(
        mid=Decimal("100000.11"), quality="Suspect", reason="kraken: crossed book; only one usable venue",
        venues_used=["coinbase"],
        venue_mids=[vm("kraken", "100000.5", 10, reason="crossed book"), vm("coinbase", "100000.11", 20)],
        divergence_bps=None,
    )


def test_locked_book_is_excluded_and_makes_the_snapshot_suspect() -> None:
    got = snap(bbo("kraken", "100000.1", "100000.3", NOW), bbo("coinbase", "100000.20", "100000.20", NOW))
    assert got.quality == "Suspect"
    assert got.reason == "coinbase: locked book; only one usable venue"
    assert got.mid == Decimal("100000.2")
    assert got.venue_mids[1] == vm("coinbase", "100000.20", 0, reason="locked book")


def test_non_positive_price_has_no_mid() -> None:
    got = snap(bbo("kraken", "0", "100000.2", NOW), bbo("coinbase", "100000.10", "100000.12", NOW))
    assert got.venue_mids[0] == vm("kraken", None, 0, reason="non-positive price")
    assert (got.quality, got.reason) == ("Suspect", "kraken: non-positive price; only one usable venue")


def test_a_stale_crossed_book_counts_as_stale_only() -> None:
    got = snap(
        bbo("kraken", "100001.0", "100000.0", NOW - 6 * S),
        bbo("coinbase", "100000.10", "100000.12", NOW),
    )
    assert (got.quality, got.reason) == ("Degraded", "kraken: stale; only one usable venue")


def test_one_configured_venue_is_degraded() -> None:
    got = snap(bbo("kraken", "100000.0", "100000.2", NOW - 1 * MS), config=SpotMidConfig(venues=["kraken"]))
    assert got == expected(
        mid=Decimal("100000.1"), quality="Degraded", reason="only one usable venue", venues_used=["kraken"],
        venue_mids=[vm("kraken", "100000.1", 1)], divergence_bps=None,
    )


def test_no_venue_at_all_is_suspect_with_a_null_mid() -> None:
    got = snap()
    assert got == expected(
        mid=None, quality="Suspect", reason="no fresh venue; kraken: no data; coinbase: no data", venues_used=[],
        venue_mids=[vm("kraken", None, None, False, "no data"), vm("coinbase", None, None, False, "no data")],
        divergence_bps=None,
    )


def test_all_stale_is_suspect_with_a_null_mid() -> None:
    got = snap(bbo("kraken", "1", "3", NOW - 7 * S), bbo("coinbase", "1", "3", NOW - 9 * S))
    assert got.mid is None
    assert (got.quality, got.reason) == ("Suspect", "no fresh venue; kraken: stale; coinbase: stale")
    assert [v.age_ms for v in got.venue_mids] == [7000, 9000]


def test_fresh_but_all_insane_says_no_sane_venue() -> None:
    got = snap(bbo("kraken", "3", "1", NOW), bbo("coinbase", "2", "2", NOW))
    assert got.mid is None
    assert got.reason == "kraken: crossed book; coinbase: locked book; no sane venue"


def test_three_venues_use_the_middle_mid() -> None:
    config = SpotMidConfig(venues=["kraken", "coinbase", "bitstamp"], max_divergence_bps=Decimal("25"))
    got = snap(
        bbo("kraken", "100010.0", "100010.2", NOW),
        bbo("coinbase", "99990.00", "99990.02", NOW),
        bbo("bitstamp", "100000", "100001", NOW),
        config=config,
    )
    assert got.mid == Decimal("100000.5")
    # (100010.1 - 99990.01) / 100000.5 * 10000 = 2.00899... bps
    assert got.divergence_bps == Decimal("2.01")
    assert (got.quality, got.venues_used) == ("Ok", ["kraken", "coinbase", "bitstamp"])


def test_other_symbols_and_unconfigured_venues_are_ignored() -> None:
    got = snap(
        bbo("kraken", "100000.0", "100000.2", NOW),
        bbo("coinbase", "100000.10", "100000.12", NOW),
        bbo("kraken", "3500.0", "3500.1", NOW, symbol="ETH-USD"),
        bbo("binance", "1", "2", NOW),
    )
    assert got.venues_used == ["kraken", "coinbase"]
    assert got.mid == Decimal("100000.105")


def test_price_places_round_venue_mids_and_median_half_even() -> None:
    config = SpotMidConfig(price_places=2)
    got = snap(bbo("kraken", "100.00", "100.01", NOW), bbo("coinbase", "100.01", "100.02", NOW), config=config)
    assert [str(v.mid) for v in got.venue_mids] == ["100.00", "100.02"]  # 100.005 -> 100.00, 100.015 -> 100.02
    assert str(got.mid) == "100.01"


@pytest.mark.parametrize(
    ("values", "result"),
    [
        (["3"], "3"),
        (["5", "1", "3"], "3"),
        (["4", "1"], "2.5"),
        (["1", "2", "4", "100"], "3"),
        (["0.00000001", "0.00000002"], "0.00000002"),  # 0.000000015 -> half even at 8 places
        (["0.00000003", "0.00000002"], "0.00000002"),  # 0.000000025 -> half even at 8 places
    ],
)
def test_median_of_odd_and_even_counts(values: list[str], result: str) -> None:
    assert str(median([Decimal(v) for v in values], Decimal("1E-8"))) == str(Decimal(result).quantize(Decimal("1E-8")))


def test_half_sum_and_divergence_helpers_are_exact() -> None:
    assert half_sum(Decimal("99999.9"), Decimal("100000.1"), Decimal("1E-8")) == Decimal("100000")
    assert divergence_bps([Decimal("99950"), Decimal("100050")], Decimal("100000")) == Decimal("10.00")
    assert divergence_bps([Decimal("1"), Decimal("1")], Decimal("1")) == Decimal("0")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"interval": 0}, "interval must be > 0"),
        ({"venues": []}, "at least one"),
        ({"venues": ["kraken", "kraken"]}, "duplicates"),
        ({"stale_after": -1}, "stale_after"),
        ({"max_divergence_bps": -1}, "max_divergence_bps"),
        ({"price_places": 40}, "price_places"),
    ],
)
def test_config_rejects_values_that_cannot_work(fields: dict[str, object], message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=message):
        msgspec.convert(fields, SpotMidConfig)
