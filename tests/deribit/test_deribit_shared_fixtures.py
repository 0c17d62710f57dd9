"""Every frame in ../shared/fixtures/deribit goes through the parser: events, or deliberately
ignored/counted, never an unexpected exception. Skipped when the folder is absent (the project
is usually cloned alone)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from deribit_testkit import session
from mdi.connector import PARSE_ERRORS
from mdi.events import EventBase, OptionTicker, VolIndex

from mdi_deribit.instruments import parse_option_name, select_options
from mdi_deribit.session import SUBSCRIBE, Pending
from mdi_deribit.wire import ENVELOPE, INSTRUMENTS, TICKER, VOL_INDEX, Instrument

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "deribit"
pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared fixtures not present (../shared/fixtures)")


def fixture_files() -> list[Path]:
    if not FIXTURES.is_dir():
        return []
    return sorted(p for p in FIXTURES.rglob("*") if p.is_file() and not p.name.endswith("_TEMPLATES.txt"))


def frames_of(path: Path) -> list[str]:
    text = path.read_text()
    if path.suffix == ".jsonl":
        return [line for line in text.splitlines() if line.strip()]
    return [text.strip()] if path.suffix == ".json" else [text]


def outcome(path: Path) -> tuple[str, list[EventBase], object]:
    """'events', 'ignored' or 'counted' (a parse error the loop counts and skips)."""
    s, h = session()
    out: list[EventBase] = []
    for text in frames_of(path):
        try:
            s.on_frame(text.encode(), 1_800_000_000_000_000_000, out)
        except PARSE_ERRORS:
            return "counted", out, s
    return ("events" if out else "ignored"), out, s


EXPECTED = {
    "FRAGMENT_dvol_data_only_docs_example.json": "counted",
    "get_instruments_btc_expired_false_rest_live_cf_2021.json": "counted",  # HTTP body: no id
    "dvol_btc_usd_docs_example_via_nautilus.json": "events",
    "dvol_btc_usd_older_docs_example_estimated_delivery_via_gct.json": "events",
    "ticker_option_BTC-24SEP21-8000-P_raw_live_cf_sequence.jsonl": "events",
    "ticker_option_BTC-8JUN20-8750-P_raw_closed_expired_tardis.json": "events",
    "ticker_option_ETH-5JUN20-310-P_raw_null_stats_zero_bid_tardis.json": "events",
    "ticker_option_linear_MATIC_USDC-9MAR24-1d02-C_raw_tardis.json": "events",
    "ticker_perpetual_BTC-PERPETUAL_100ms_cmp.json": "ignored",
    "ticker_perpetual_BTC-PERPETUAL_100ms_nautilus_2025.json": "ignored",
    "ticker_future_BTC-30SEP22_100ms_cmp.json": "ignored",
    "ticker_BTC_USDC-PERPETUAL_100ms_exponent_numbers_live_2026-09-23.json": "ignored",
    "perpetual_BTC_USDC-PERPETUAL_100ms_live_2026-09-23.json": "ignored",
}


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_fixture_is_normalized_or_deliberately_skipped(path: Path) -> None:
    kind, out, _ = outcome(path)
    if path.name in EXPECTED:
        assert kind == EXPECTED[path.name]
    elif path.name.startswith("ticker_option"):
        assert kind == "events" and all(isinstance(e, OptionTicker) for e in out)
    else:  # responses, errors, heartbeats: understood, no events
        assert kind == "ignored"


def test_fixture_folder_has_the_key_frames() -> None:
    names = {p.name for p in fixture_files()}
    assert set(EXPECTED) <= names and len(names) >= 30


def one(name: str) -> EventBase:
    kind, out, _ = outcome(FIXTURES / name)
    assert kind == "events" and len(out) == 1
    return out[0]


def test_quoted_option_exact_values() -> None:
    e = one("ticker_option_BTC-5JUN20-9250-C_raw_tardis.json")
    assert isinstance(e, OptionTicker)
    assert (e.symbol, e.strike, e.option_type, e.underlying_index) == ("BTC-5JUN20-9250-C", Decimal("9250"), "C", "SYN.BTC-5JUN20")
    assert e.expiry_ns == 1_591_344_000 * 10**9 and e.ts_exchange == 1_590_969_652_595 * 10**6
    assert (e.mark_price, e.mark_iv, e.best_bid_price, e.best_bid_amount, e.bid_iv) == (
        Decimal("0.03847784"), Decimal("63.21"), Decimal("0.0365"), Decimal("15.4"), Decimal("58.39"))
    assert (e.best_ask_price, e.best_ask_amount, e.ask_iv) == (Decimal("0.04"), Decimal("4.8"), Decimal("66.9"))
    assert e.greeks.gamma == Decimal("0.00058") and e.underlying_price == Decimal("9440.73")


def test_expired_and_empty_book_options() -> None:
    expired = one("ticker_option_BTC-8JUN20-8750-P_raw_closed_expired_tardis.json")
    assert isinstance(expired, OptionTicker) and expired.ask_iv is None and expired.best_ask_price is None
    assert expired.mark_price == Decimal("0.0") and expired.index_price == Decimal("9729.25")
    empty = one("ticker_option_ETH-5JUN20-310-P_raw_null_stats_zero_bid_tardis.json")
    assert isinstance(empty, OptionTicker) and empty.strike == Decimal("310")
    assert (empty.best_bid_price, empty.best_bid_amount, empty.bid_iv, empty.best_ask_price, empty.ask_iv) == (None,) * 5
    assert empty.mark_iv == Decimal("118.63")


def test_linear_option_strike_and_index_literal() -> None:
    e = one("ticker_option_linear_MATIC_USDC-9MAR24-1d02-C_raw_tardis.json")
    assert isinstance(e, OptionTicker)
    assert e.strike == Decimal("1.02") and e.underlying_index == "index_price" and e.mark_price == Decimal("0.139")


def test_dvol_frames() -> None:
    for name in ("dvol_btc_usd_docs_example_via_nautilus.json", "dvol_btc_usd_older_docs_example_estimated_delivery_via_gct.json"):
        e = one(name)
        assert isinstance(e, VolIndex)
        assert (e.symbol, e.index_name, e.value, e.ts_exchange) == ("BTC-DVOL", "btc_usd", Decimal("129.36"), 1_619_777_946_007_000_000)
    fragment = json.loads((FIXTURES / "FRAGMENT_dvol_data_only_docs_example.json").read_text())
    assert VOL_INDEX.decode(json.dumps(fragment["data"])).volatility == Decimal("129.36")


def test_heartbeats_are_answered() -> None:
    for name in ("heartbeat_test_request_nautilus.json", "unattributed/heartbeat_test_request_live_2026-09-23_wire_key_order.json"):
        _, _, s = outcome(FIXTURES / name)
        assert [json.loads(m)["method"] for m in s.outbox] == ["public/test"]  # type: ignore[attr-defined]


def test_errors_set_last_error_with_their_data() -> None:
    _, _, s = outcome(FIXTURES / "unattributed/error_11050_bad_request_invalid_json_no_id_live_2026-09-23.json")
    assert s.stats.last_error == 'error without a request id: 11050 bad_request "invalid json"'  # type: ignore[attr-defined]
    _, _, s = outcome(FIXTURES / "error_invalid_params_-32602_http_live_gct_issue2099.json")
    assert s.stats.last_error.startswith("error without a request id: -32602 Invalid params {")  # type: ignore[attr-defined]


def test_non_option_tickers_decode_exponent_numbers_exactly() -> None:
    text = (FIXTURES / "unattributed/ticker_BTC_USDC-PERPETUAL_100ms_exponent_numbers_live_2026-09-23.json").read_text()
    data = TICKER.decode(json.dumps(json.loads(text)["params"]["data"]))
    assert data.mark_price == Decimal("86778.14") and data.best_bid_amount == Decimal("0.0645")
    assert parse_option_name(data.instrument_name) is None
    _, _, s = outcome(FIXTURES / "unattributed/ticker_BTC_USDC-PERPETUAL_100ms_exponent_numbers_live_2026-09-23.json")
    assert s.deribit.counts == {"non_option_ticker": 1}  # type: ignore[attr-defined]


def test_live_subscribe_response_acknowledges_the_live_request_in_any_order() -> None:
    request = json.loads((FIXTURES / "subscribe_request_client_sent_cf_2021.json").read_text())
    channels = tuple(request["params"]["channels"])
    s, h = session()
    s.inflight[request["id"]] = Pending(SUBSCRIBE, channels, 0)
    s.on_frame((FIXTURES / "subscribe_response_live_cf_2021.json").read_bytes(), 1, [])
    assert s.subscribed == set(channels) and h.stats.sub_rejections == 0
    s.inflight[4] = Pending(SUBSCRIBE, ("ticker.NOPE.100ms",), 0)
    s.on_frame((FIXTURES / "unattributed/subscribe_response_empty_result_unknown_channel_live_2026-09-23.json").read_bytes(), 1, [])
    assert h.stats.rejected == ["ticker.NOPE.100ms: not in the subscribe result (unknown or unavailable channel)"]


def test_live_2021_instrument_list() -> None:
    body = (FIXTURES / "get_instruments_btc_expired_false_rest_live_cf_2021.json").read_bytes()
    listed = INSTRUMENTS.decode(ENVELOPE.decode(body).result)
    assert len(listed) == 398 and sum(i.kind == "option" for i in listed) == 390
    for inst in listed:
        meta = parse_option_name(inst.instrument_name)
        if inst.kind == "option":
            assert meta is not None and meta.expiry_ns == inst.expiration_timestamp * 1_000_000 and meta.strike == inst.strike
    captured = 1_626_993_723_161 * 1_000_000
    picked = select_options(listed, currency="BTC", now_ns=captured, max_days_to_expiry=0, moneyness_band=0,
                            max_instruments=0, reference=Decimal("32201.67"))
    assert len(picked) == 390 and picked[0] in {"BTC-23JUL21-32000-C", "BTC-23JUL21-32000-P"}


def test_docs_get_instrument_examples_decode() -> None:
    for name in ("get_instrument_option_BTC-13JAN23-16000-P_docs_example.json", "handbuilt/get_instrument_option_modern_fields_nautilus.json"):
        inst = msgspec.json.decode(json.dumps(json.loads((FIXTURES / name).read_text())["result"]), type=Instrument)
        meta = parse_option_name(inst.instrument_name)
        assert meta is not None and meta.strike == inst.strike and inst.kind == "option"
