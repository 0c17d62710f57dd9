"""Option names, the selection rule and the config section."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import msgspec
import pytest
from deribit_testkit import frame

from mdi_deribit.config import DeribitConfig
from mdi_deribit.instruments import parse_expiry_ns, parse_option_name, select_options
from mdi_deribit.wire import INSTRUMENTS, Instrument, Envelope

NS = 1_000_000_000
DAY_MS = 86_400_000


def utc_ns(*args: int) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp()) * NS


def test_option_name_expires_at_0800_utc_on_its_date() -> None:
    meta = parse_option_name("BTC-27DEC24-100000-C")
    assert meta is not None
    assert meta.expiry_ns == utc_ns(2024, 12, 27, 8) == 1_735_286_400 * NS
    assert meta.strike == Decimal("100000") and meta.option_type == "C"


def test_single_digit_day_and_put() -> None:
    meta = parse_option_name("BTC-5JUN20-9250-P")
    assert meta == (utc_ns(2020, 6, 5, 8), Decimal("9250"), "P")


def test_docs_instrument_expiration_timestamp_matches_the_name() -> None:
    # docs example BTC-13JAN23-16000-P: expiration_timestamp 1673596800000
    meta = parse_option_name("BTC-13JAN23-16000-P")
    assert meta is not None and meta.expiry_ns == 1_673_596_800_000 * 1_000_000


def test_linear_option_strike_uses_d_for_the_decimal_point() -> None:
    meta = parse_option_name("MATIC_USDC-9MAR24-1d02-C")
    assert meta is not None and meta.strike == Decimal("1.02")


@pytest.mark.parametrize("name", ["BTC-PERPETUAL", "BTC-27DEC24", "BTC_USDC-PERPETUAL", "BTC-27DEC24-100000-X"])
def test_non_options_have_no_meta(name: str) -> None:
    assert parse_option_name(name) is None


@pytest.mark.parametrize("name", ["BTC-27XXX24-100000-C", "BTC-DEC24-100000-C", "BTC-27DEC24-abc-C", "BTC-127DEC24-1-P"])
def test_malformed_option_names_raise(name: str) -> None:
    with pytest.raises(ValueError):
        parse_option_name(name)


def test_expiry_code_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_expiry_ns("27DEC2")


def opt(name: str, days: float, now_ns: int, **kw: object) -> Instrument:
    """An instrument entry; the expiry is given in days from ``now_ns``, the name is a label."""
    _, _, strike, kind = name.split("-")
    return Instrument(
        instrument_name=name, kind="option", expiration_timestamp=(now_ns // 1_000_000) + int(days * DAY_MS),
        strike=Decimal(strike), option_type="call" if kind == "C" else "put", base_currency="BTC", **kw,
    )  # type: ignore[arg-type]


NOW = utc_ns(2026, 1, 1, 12)


def listing() -> list[Instrument]:
    return [
        opt("BTC-A-100000-C", 2, NOW), opt("BTC-A-90000-P", 2, NOW), opt("BTC-A-60000-P", 2, NOW),
        opt("BTC-B-100000-C", 30, NOW), opt("BTC-B-140000-C", 30, NOW),
        opt("BTC-C-100000-C", 90, NOW),
        opt("BTC-D-100000-C", -0.1, NOW),  # already expired
        opt("BTC-E-100000-P", 5, NOW, is_active=False),
        Instrument(instrument_name="BTC-PERPETUAL", kind="future", expiration_timestamp=32_503_680_000_000),
    ]


def select(**kw: object) -> list[str]:
    args: dict[str, object] = dict(currency="BTC", now_ns=NOW, max_days_to_expiry=60, moneyness_band=0.3,
                                   max_instruments=0, reference=Decimal("100000"))
    args.update(kw)
    return select_options(listing(), **args)  # type: ignore[arg-type]


def test_selection_filters_expiry_moneyness_activity_and_kind() -> None:
    assert select() == ["BTC-A-100000-C", "BTC-B-100000-C", "BTC-A-90000-P"]


def test_selection_without_limits_keeps_every_live_active_option_nearest_first() -> None:
    got = select(max_days_to_expiry=0, moneyness_band=0)
    assert got == ["BTC-A-100000-C", "BTC-B-100000-C", "BTC-C-100000-C", "BTC-A-90000-P",
                   "BTC-A-60000-P", "BTC-B-140000-C"]


def test_cap_trims_the_wings_first() -> None:
    assert select(max_days_to_expiry=0, moneyness_band=0, max_instruments=2) == ["BTC-A-100000-C", "BTC-B-100000-C"]


def test_unknown_reference_skips_the_band_and_ranks_by_expiry() -> None:
    got = select(reference=None, max_instruments=3)
    assert got == ["BTC-A-60000-P", "BTC-A-90000-P", "BTC-A-100000-C"]


def test_other_currency_is_not_selected() -> None:
    assert select(currency="ETH") == []


def test_live_2021_instrument_list_decodes_and_selects_only_options() -> None:
    env = msgspec.json.decode(frame("get_instruments_response_2021_subset.json"), type=Envelope)
    listed = INSTRUMENTS.decode(env.result)
    assert len(listed) == 9 and {i.kind for i in listed} == {"option", "future"}
    assert listed[0].strike == Decimal("40000.0")
    captured = 1_626_993_723_161 * 1_000_000
    got = select_options(listed, currency="BTC", now_ns=captured, max_days_to_expiry=70, moneyness_band=0.3,
                         max_instruments=0, reference=Decimal("32201.67"))
    assert got == ["BTC-30JUL21-32000-C", "BTC-30JUL21-32000-P", "BTC-24SEP21-40000-P", "BTC-30JUL21-24000-P"]


def test_config_defaults_and_channels() -> None:
    cfg = DeribitConfig()
    assert cfg.url == "wss://www.deribit.com/ws/api/v2"
    assert (cfg.currency, cfg.index_name, cfg.interval, cfg.heartbeat_interval) == ("BTC", "btc_usd", "100ms", 30)
    assert (cfg.max_days_to_expiry, cfg.moneyness_band, cfg.max_instruments) == (60.0, 0.3, 300)
    assert (cfg.instrument_refresh, cfg.subscribe_chunk, cfg.subscribe_rate) == (600.0, 100, 2.0)
    assert cfg.ticker_channel("BTC-27DEC24-100000-C") == "ticker.BTC-27DEC24-100000-C.100ms"
    assert cfg.dvol_channel() == "deribit_volatility_index.btc_usd"


@pytest.mark.parametrize(
    ("toml_like", "message"),
    [
        ({"interval": "raw"}, "Invalid enum value 'raw' - at `$.interval`"),
        ({"heartbeat_interval": 5}, "Expected `int` >= 10 - at `$.heartbeat_interval`"),
        ({"subscribe_rate": 10.0}, "Expected `float` <= 3.3 - at `$.subscribe_rate`"),
        ({"moneyness_band": 1.5}, "Expected `float` < 1.0 - at `$.moneyness_band`"),
        ({"instrument": ["x"]}, "Object contains unknown field `instrument`"),
        ({"discover": False, "dvol": False}, "nothing to subscribe: enable `discover` or `dvol`, or list `instruments`"),
    ],
)
def test_config_rejects_bad_values_with_the_key_path(toml_like: dict[str, object], message: str) -> None:
    with pytest.raises(msgspec.ValidationError) as info:
        msgspec.convert(toml_like, DeribitConfig)
    assert str(info.value) == message


def test_config_from_a_section() -> None:
    cfg = msgspec.convert({"instruments": ["BTC-27DEC24-100000-C"], "discover": False, "dvol": False,
                           "stale_after": 5.0}, DeribitConfig)
    assert cfg.instruments == ["BTC-27DEC24-100000-C"] and not cfg.discover and cfg.stale_after == 5.0
