"""The Binance session on recorded frames (no network): exact values, acks, errors, pacing."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import msgspec
import pytest

from mdi.connector import PARSE_ERRORS, MalformedFrame
from mdi.events import EventBase, MarkPrice, Rejected

from binance_helpers import Harness, frame, make_config, make_session
from mdi_binance.config import LIVE_URL, BinanceConfig
from mdi_binance.connector import path_warning
from mdi_binance.pacing import RequestPacer
from mdi_binance.symbols import SymbolMap, canonical_symbol

MS = 1_000_000
RECV = 1_791_044_809_250 * MS


def parse(name_or_bytes: str | bytes, session: object | None = None) -> tuple[bool, list[EventBase]]:
    session = session or make_session()[0]
    out: list[EventBase] = []
    raw = frame(name_or_bytes) if isinstance(name_or_bytes, str) else name_or_bytes
    session.frame = raw  # type: ignore[attr-defined]  # as the connector loop does
    got_data = session.on_frame(raw, RECV, out)  # type: ignore[attr-defined]
    return got_data, out


def only_mark(name: str) -> MarkPrice:
    got_data, out = parse(name)
    assert got_data is True
    assert len(out) == 1 and isinstance(out[0], MarkPrice)
    return out[0]


# ----- mark price frames ---------------------------------------------------------------------


def test_docs_raw_frame_all_fields_exact() -> None:
    m = only_mark("raw_markPriceUpdate_btcusdt_docs.json")
    assert m == MarkPrice(
        venue="binance",
        symbol="BTC-USDT-PERP",
        ts_recv=RECV,
        ts_exchange=1562305380000 * MS,
        mark_price=Decimal("11794.15000000"),
        index_price=Decimal("11784.62659091"),
        est_settle_price=Decimal("11784.25641265"),
        funding_rate=Decimal("0.00038167"),
        next_funding_ns=1562306400000 * MS,
    )
    assert str(m.mark_price) == "11794.15000000"  # the venue's text, trailing zeros kept


def test_combined_2026_frame_with_ap_ignores_unknown_keys() -> None:
    m = only_mark("combined_markPrice_1s_btcusdt_ap_2026-10.json")
    assert (m.symbol, m.ts_exchange) == ("BTC-USDT-PERP", 1791044809001 * MS)
    assert str(m.mark_price) == "84756.35776087"
    assert str(m.est_settle_price) == "84830.21202428"
    assert str(m.index_price) == "84788.51847826"
    assert m.funding_rate == Decimal("-0.00005353")
    assert m.next_funding_ns == 1791072000000 * MS


def test_st_key_is_ignored_too() -> None:
    m = only_mark("combined_markPrice_1s_btcusdt_st_handbuilt.json")
    assert m.mark_price == Decimal("84757.01000000")


def test_live_key_order_p_before_i() -> None:
    m = only_mark("raw_markPriceUpdate_btcusdt_live_2021.json")
    assert (m.mark_price, m.est_settle_price, m.index_price) == (
        Decimal("48564.65000000"),
        Decimal("48521.67784034"),
        Decimal("48563.05343440"),
    )
    assert m.funding_rate == Decimal("0.00010000")


def test_older_payloads_without_index_or_settle_price() -> None:
    m2019 = only_mark("combined_markPrice_3s_btcusdt_no_index_2019.json")
    assert (m2019.index_price, m2019.est_settle_price) == (None, None)
    assert m2019.mark_price == Decimal("8291.34697815")
    m2020 = only_mark("combined_markPrice_1s_btcusdt_no_settle_2020.json")
    assert m2020.index_price == Decimal("11851.86949091")
    assert m2020.est_settle_price is None


def test_delivery_contracts_have_no_funding() -> None:
    coinm = only_mark("raw_markPriceUpdate_coinm_delivery_r_empty.json")
    assert (coinm.symbol, coinm.funding_rate, coinm.next_funding_ns) == ("BTC-USD-201225", None, None)
    quarterly = only_mark("combined_markPrice_1s_btcbusd_quarterly_T0.json")
    assert quarterly.symbol == "BTC-BUSD-210129"
    assert quarterly.funding_rate == Decimal("0.00000000")  # USD-M sends zero, not ""
    assert quarterly.next_funding_ns is None


def test_array_payload_gives_one_event_per_contract() -> None:
    got_data, out = parse("combined_allMarketMarkPrice_arr_2021.json")
    assert got_data
    assert [(e.symbol, e.mark_price) for e in out if isinstance(e, MarkPrice)] == [
        ("BTC-USDT-PERP", Decimal("59022.53514719")),
        ("ETH-USDT-PERP", Decimal("1981.15704420")),
    ]
    raw_array = json.dumps(json.loads(frame("combined_allMarketMarkPrice_arr_2021.json"))["data"]).encode()
    assert len(parse(raw_array)[1]) == 2  # raw /ws/!markPrice@arr: a bare list


def test_exchange_latency_recorded_once_per_frame() -> None:
    session, harness = make_session()
    parse("combined_allMarketMarkPrice_arr_2021.json", session)
    parse("combined_markPrice_1s_btcusdt_ap_2026-10.json", session)
    hist = harness.stats.exchange_latency
    assert hist.n == 2
    assert hist.counts[-1] == 1  # the 2021 frame: years old, beyond the last bucket
    assert hist.counts[hist.buckets.index(0.25)] == 1  # the 2026 frame: E is 249 ms before RECV


# ----- acknowledgements and errors -----------------------------------------------------------


def subscribed_session(symbols: list[str]) -> tuple[object, Harness]:
    session, harness = make_session(make_config("ws://127.0.0.1:1/market/stream", symbols=symbols, streams_per_request=1))
    harness.ctx.clock = lambda: 0
    sent = session.opening_messages()
    assert [json.loads(m)["id"] for m in sent] == list(range(1, len(symbols) + 1))
    return session, harness


@pytest.mark.parametrize("ack", ["subscribe_ack.json", "subscribe_ack_id_first.json"])
def test_ack_by_id_confirms_the_request_streams(ack: str) -> None:
    session, _ = subscribed_session(["BTCUSDT"])
    assert session.pending_acks == {"btcusdt@markPrice@1s"}  # type: ignore[attr-defined]
    assert parse(ack, session) == (False, [])
    assert session.pending_acks == set()  # type: ignore[attr-defined]
    assert session.subscribed == {"btcusdt@markPrice@1s"}  # type: ignore[attr-defined]


def test_subscribe_request_shape() -> None:
    session, _ = make_session(make_config("ws://x/market/stream", symbols=["BTCUSDT", "ethusdt"]))
    (request,) = session.opening_messages()
    assert json.loads(request) == {"method": "SUBSCRIBE", "params": ["btcusdt@markPrice@1s", "ethusdt@markPrice@1s"], "id": 1}


def test_error_rejects_that_requests_streams(caplog: pytest.LogCaptureFixture) -> None:
    session, harness = subscribed_session(["BTCUSDT", "ETHUSDT"])
    with caplog.at_level(logging.ERROR):
        assert parse("error_invalid_stream.json", session) == (False, [])  # id 2
    assert harness.stats.rejected == ["ethusdt@markPrice@1s: code 2: Invalid request: invalid stream"]
    assert harness.stats.sub_rejections == 1
    assert session.pending_acks == {"btcusdt@markPrice@1s"}  # type: ignore[attr-defined]
    assert any(r.levelno == logging.ERROR and r.getMessage() == "subscription rejected" for r in caplog.records)


def test_unwrapped_error_shape_rejects_too() -> None:
    session, harness = subscribed_session(["BTCUSDT", "ETHUSDT", "SOLUSDT"])
    parse("error_unwrapped_handbuilt.json", session)  # id 3
    assert harness.stats.rejected == ["solusdt@markPrice@1s: code 2: Invalid request: invalid stream"]


def test_error_without_id_is_logged_not_a_rejection(caplog: pytest.LogCaptureFixture) -> None:
    session, harness = subscribed_session(["BTCUSDT"])
    with caplog.at_level(logging.ERROR):
        parse("error_bad_json_no_id_handbuilt.json", session)
    assert harness.stats.sub_rejections == 0
    assert harness.stats.last_error == "binance error (id=None): code 3: Invalid JSON: expected value at line 1 column 1"
    assert any("binance error reply" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("reply", ["list_subscriptions_reply.json", "get_property_reply.json"])
def test_replies_to_unknown_ids_are_ignored(reply: str) -> None:
    session, _ = subscribed_session(["BTCUSDT"])
    assert parse(reply, session) == (False, [])
    assert session.pending_acks == {"btcusdt@markPrice@1s"}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "bad",
    [
        b"<html>502</html>",
        b"{}",
        b'{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"abc"}',
        b'{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","s":"BTCUSDT","p":"1"}}',
    ],
)
def test_malformed_frames_raise_parse_errors(bad: bytes) -> None:
    with pytest.raises(PARSE_ERRORS):
        parse(bad)


E_2026 = 1_791_044_809_000  # a real event time (ms); E=1 would be a placeholder timestamp


@pytest.mark.parametrize(
    ("fields", "reason", "field", "value"),
    [
        ('"p":"Infinity"', "non_finite", "p", "Infinity"),
        ('"p":"NaN"', "non_finite", "p", "NaN"),
        ('"p":"-1.5"', "not_positive", "p", "-1.5"),
        ('"p":"0"', "not_positive", "p", "0"),
        ('"p":"1","i":"Infinity"', "non_finite", "i", "Infinity"),
        ('"p":"1","r":"NaN"', "non_finite", "r", "NaN"),
        ('"p":"1","r":"abc"', "not_a_number", "r", "abc"),
        ('"p":"1E+400"', "out_of_range", "p", "1E+400"),
    ],
)
def test_bad_values_become_rejected_events_with_the_raw_frame(fields: str, reason: str, field: str, value: str) -> None:
    raw = b'{"e":"markPriceUpdate","E":%d,"s":"BTCUSDT",%s}' % (E_2026, fields.encode())
    session = make_session()[0]
    got_data, out = parse(raw, session)
    assert got_data is False
    assert [type(e) for e in out] == [Rejected]
    rejected = out[0]
    assert isinstance(rejected, Rejected)
    assert (rejected.reason, rejected.field, rejected.value, rejected.symbol) == (reason, field, value, "BTC-USDT-PERP")
    assert rejected.raw == raw.decode()
    assert session.stats.invalid == {reason: 1}  # type: ignore[attr-defined]


def test_negative_funding_rate_is_a_value_not_a_rejection() -> None:
    raw = b'{"e":"markPriceUpdate","E":%d,"s":"BTCUSDT","p":"60000.1","r":"-0.00012"}' % E_2026
    got_data, out = parse(raw)
    assert got_data is True and isinstance(out[0], MarkPrice) and out[0].funding_rate == Decimal("-0.00012")


def test_epoch_event_time_is_a_placeholder_not_a_mark_price() -> None:
    got_data, out = parse(b'{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"1"}')
    assert got_data is False and isinstance(out[0], Rejected) and out[0].reason == "placeholder_timestamp"


@pytest.mark.parametrize(
    "other",
    [
        b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1,"s":"BTCUSDT","p":"1"}}',
        b'{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":400900217,"s":"BTCUSDT","b":"25.35","B":"31.2","a":"25.36","A":"40.66"}}',
        b'{"e":"aggTrade","E":1,"s":"BTCUSDT","a":5933014,"p":"0.001","q":"100","T":123456785,"m":true}',
    ],
)
def test_frames_of_streams_not_subscribed_are_ignored_not_malformed(other: bytes) -> None:
    session = make_session()[0]
    assert parse(other, session) == (False, [])
    assert session.stats.ignored == 1  # type: ignore[attr-defined]


# ----- pacing ----------------------------------------------------------------------------------


def test_pacer_keeps_to_the_limit_per_window() -> None:
    pacer = RequestPacer(limit=2, window_s=1.0)
    for i in range(5):
        pacer.add(f"m{i}")
    assert pacer.release(0) == ["m0", "m1"]
    assert pacer.release(999_999_999) == []
    assert pacer.release(1_000_000_000) == ["m2", "m3"]
    assert pacer.release(2_000_000_000) == ["m4"]
    assert pacer.release(3_000_000_000) == []


def test_session_releases_subscribe_requests_gradually() -> None:
    session, harness = make_session(make_config("ws://x/market/stream", symbols=[f"S{i}USDT" for i in range(12)], streams_per_request=1))
    harness.ctx.clock = lambda: 0
    first = session.opening_messages()
    assert len(first) == 5  # max_requests_per_second default
    session.periodic(1_000_000_000)  # window is 1 s + one loop tick
    assert session.outbox == []
    session.periodic(1_250_000_000)
    assert [json.loads(m)["id"] for m in session.outbox] == [6, 7, 8, 9, 10]
    session.periodic(2_500_000_000)
    assert [json.loads(m)["id"] for m in session.outbox] == [6, 7, 8, 9, 10, 11, 12]
    assert len(session.pending_acks) == 12


# ----- symbols, config, URL ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("BTCUSDT", "BTC-USDT-PERP"),
        ("btcusdt", "BTC-USDT-PERP"),
        ("ETHUSDC", "ETH-USDC-PERP"),
        ("BTCBUSD", "BTC-BUSD-PERP"),
        ("BTCFDUSD", "BTC-FDUSD-PERP"),
        ("BTCUSDT_260626", "BTC-USDT-260626"),
        ("BTCUSD_PERP", "BTC-USD-PERP"),
        ("1000PEPEUSDT", "1000PEPE-USDT-PERP"),
        ("WEIRD", "WEIRD"),
    ],
)
def test_canonical_symbols(name: str, canonical: str) -> None:
    assert canonical_symbol(name) == canonical


def test_symbol_map_overrides() -> None:
    symbol_of = SymbolMap({"btcusdt": "XBT-PERP"})
    assert (symbol_of("BTCUSDT"), symbol_of("ETHUSDT"), symbol_of("ETHUSDT")) == ("XBT-PERP", "ETH-USDT-PERP", "ETH-USDT-PERP")


def test_config_defaults() -> None:
    cfg = msgspec.convert({}, BinanceConfig)
    assert cfg.url == LIVE_URL == "wss://fstream.binance.com/market/stream"
    assert cfg.symbols == ["BTCUSDT"]
    assert cfg.stream_names() == ["btcusdt@markPrice@1s"]
    assert cfg.max_connection_age == 84_600.0  # 23.5 h, before Binance's 24 h cut
    assert (cfg.stale_after, cfg.max_requests_per_second, cfg.streams_per_request) == (10.0, 5, 100)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"symbols": []}, "at least one"),
        ({"symbols": ["BTC/USDT"]}, "not a Binance contract"),
        ({"symbols": ["BTCUSDT", "btcusdt"]}, "duplicates"),
        ({"symbols": [f"S{i}USDT" for i in range(1025)], "streams_per_request": 200}, "1024"),
        ({"stream": "aggTrade"}, "not supported"),
        ({"max_requests_per_second": 11}, "between 1 and 10"),
        ({"max_connection_age": 90_000}, "24 h"),
        ({"symbols": [f"S{i}USDT" for i in range(100)], "streams_per_request": 1}, "ack_timeout"),
        ({"unknown_key": 1}, "unknown_key"),
    ],
)
def test_config_rejects(section: dict[str, object], message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=message):
        msgspec.convert(section, BinanceConfig)


def test_path_warning_only_for_unrouted_binance_urls() -> None:
    assert path_warning("wss://fstream.binance.com/market/stream") == ""
    assert path_warning("wss://fstream.binance.com/market/ws/btcusdt@markPrice@1s") == ""
    assert "/market" in path_warning("wss://fstream.binance.com/stream")
    assert "/market" in path_warning("wss://fstream.binance.com/public/stream")
    assert path_warning("ws://127.0.0.1:9000/stream") == ""
