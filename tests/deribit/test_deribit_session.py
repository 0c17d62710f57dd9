"""The session's protocol logic, frame by frame, with a hand-driven clock (no socket)."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import msgspec
import pytest
from deribit_testkit import Clock, exact, frame, frame_lines, sent, session
from mdi.connector import PARSE_ERRORS, SessionError
from mdi.events import EventBase, Greeks, OptionTicker, Rejected, VolIndex

from mdi_deribit.config import DeribitConfig


def parse(s: object, text: str, now: int = 1_790_133_841_000_000_000) -> tuple[bool, list[EventBase]]:
    out: list[EventBase] = []
    data = s.on_frame(text.encode(), now, out)  # type: ignore[attr-defined]
    return data, out


def test_live_100ms_option_ticker_exact_values() -> None:
    s, h = session()
    text = frame("ticker_option_BTC-30SEP22-60000-C_100ms_live_2022.json")
    data, out = parse(s, text)
    d = exact(text)["params"]["data"]
    assert data is True and len(out) == 1
    e = out[0]
    assert isinstance(e, OptionTicker)
    assert (e.venue, e.symbol, e.option_type, e.strike) == ("deribit", "BTC-30SEP22-60000-C", "C", Decimal("60000"))
    assert e.expiry_ns == 1_664_524_800 * 10**9  # 2022-09-30 08:00 UTC
    assert e.ts_exchange == 1_654_161_839_367_000_000
    assert e.underlying_price == Decimal("30220.5") == d["underlying_price"]
    assert e.underlying_index == "BTC-30SEP22"
    assert e.index_price == Decimal("29939.43") and e.mark_price == Decimal("0.0084")
    assert (e.mark_iv, e.bid_iv, e.ask_iv) == (Decimal("67.7"), Decimal("67.16"), Decimal("68.65"))
    assert (e.best_bid_price, e.best_bid_amount) == (Decimal("0.008"), Decimal("2.8"))
    assert (e.best_ask_price, e.best_ask_amount) == (Decimal("0.009"), Decimal("18.5"))
    assert e.open_interest == Decimal("1767.5")
    assert e.greeks == Greeks(delta=Decimal("0.05785"), gamma=Decimal("0.00001"), vega=Decimal("20.05335"),
                              theta=Decimal("-5.65962"), rho=Decimal("4.91491"))
    assert str(e.mark_price) == "0.0084" and str(e.bid_iv) == "67.16"  # the venue's text, digit for digit
    assert h.stats.exchange_latency.n == 1


def test_empty_bid_side_is_none_not_zero() -> None:
    s, _ = session()
    _, [e] = parse(s, frame("ticker_option_BTC-26JUN26-150000-C_100ms_empty_bid_handbuilt.json"))
    assert isinstance(e, OptionTicker)
    assert (e.best_bid_price, e.best_bid_amount, e.bid_iv) == (None, None, None)
    assert (e.best_ask_price, e.best_ask_amount, e.ask_iv) == (Decimal("0.001"), Decimal("12.5"), Decimal("51.3"))
    assert e.greeks.gamma == Decimal("0.0")


def test_expired_option_with_string_delivery_price_does_not_fail() -> None:
    s, _ = session()
    data, [e] = parse(s, frame("ticker_option_BTC-2JAN26-80000-P_100ms_expired_handbuilt.json"))
    assert data is True and isinstance(e, OptionTicker)
    assert e.best_bid_price is e.best_ask_price is e.bid_iv is e.ask_iv is None  # ask_iv 500.0 sentinel dropped
    assert e.mark_price == Decimal("0.0") and e.mark_iv == Decimal("38.0") and e.open_interest == Decimal("0.0")
    assert e.underlying_index == "SYN.BTC-2JAN26"


def test_exponent_numbers_become_exact_decimals() -> None:
    s, _ = session()
    _, [e] = parse(s, frame("ticker_option_BTC-25SEP26-140000-C_100ms_exponent_handbuilt.json"))
    assert isinstance(e, OptionTicker)
    assert e.mark_price == Decimal("1.423e-4") and e.best_bid_price == Decimal("1e-4")
    assert e.best_ask_price == Decimal("2e-4") and e.best_ask_amount == Decimal("25")
    assert e.greeks.rho == Decimal("5.149e-5") and e.greeks.gamma == Decimal("1.2e-7")


def test_null_stats_and_raw_channel_sequence() -> None:
    s, _ = session()
    _, [e] = parse(s, frame("ticker_option_BTC-31DEC21-34000-P_raw_null_stats_live_2021.json"))
    assert isinstance(e, OptionTicker) and e.best_bid_price == Decimal("0.2325") and e.option_type == "P"
    out: list[EventBase] = []
    for line in frame_lines("ticker_option_BTC-24SEP21-8000-P_raw_sequence_live_2021.jsonl"):
        s.on_frame(line, 1, out)
    assert [e.ts_exchange // 1_000_000 for e in out] == [exact(x)["params"]["data"]["timestamp"]
                                                         for x in frame_lines("ticker_option_BTC-24SEP21-8000-P_raw_sequence_live_2021.jsonl")]
    assert out[1].best_ask_price == Decimal("0.001") and out[1].ask_iv == Decimal("144.63")  # type: ignore[attr-defined]


def test_dvol_becomes_vol_index() -> None:
    s, _ = session()
    data, [e] = parse(s, frame("dvol_btc_usd_handbuilt.json"))
    assert data is True
    assert e == VolIndex(venue="deribit", symbol="BTC-DVOL", ts_recv=1_790_133_841_000_000_000,
                         ts_exchange=1_790_133_841_000_000_000, index_name="btc_usd", value=Decimal("52.87"))


def test_test_request_is_answered_and_is_not_data() -> None:
    s, _ = session()
    data, out = parse(s, frame("heartbeat_test_request_wire_order.json"))
    assert data is False and out == []
    [msg] = sent(s)
    assert msg["method"] == "public/test" and msg["params"] == {} and msg["jsonrpc"] == "2.0"
    data, out = parse(s, frame("heartbeat_plain_handbuilt.json"))
    assert (data, out, s.outbox) == (False, [], [])


def test_non_option_ticker_and_unknown_channel_are_ignored_and_counted() -> None:
    s, h = session()
    assert parse(s, frame("ticker_perpetual_BTC-PERPETUAL_100ms_live_2022.json")) == (False, [])
    unknown = '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"perpetual.BTC-PERPETUAL.100ms","data":{}}}'
    assert parse(s, unknown) == (False, [])
    assert h.connector.counts == {"non_option_ticker": 1, "unknown_channel": 1}


@pytest.mark.parametrize("text", [
    "not json",
    '{"data":{"volatility":1}}',
    '{"jsonrpc":"2.0","method":"subscription"}',
    '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-27DEC24-100000-C.100ms","data":{"instrument_name":"BTC-27DEC24-100000-C","timestamp":"soon"}}}',
    '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-27XYZ24-1-C.100ms","data":{"instrument_name":"BTC-27XYZ24-1-C","timestamp":1}}}',
    '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"deribit_volatility_index.btc_usd","data":{"volatility":"high","timestamp":1,"index_name":"btc_usd"}}}',
])
def test_malformed_frames_raise_a_parse_error(text: str) -> None:
    s, _ = session()
    with pytest.raises(PARSE_ERRORS):
        parse(s, text)


# ----- requests, acknowledgements, pacing ---------------------------------------------------


def opened(config: DeribitConfig) -> tuple[object, Clock, list[dict[str, object]]]:
    """A session after its opening requests, with ``set_heartbeat`` (id 1) answered."""
    clock = Clock()
    s, _ = session(config, clock)
    msgs = sent(s, s.opening_messages())
    parse(s, frame("set_heartbeat_response.json"), clock.now)
    return s, clock, msgs


def test_opening_requests() -> None:
    s, _, msgs = opened(DeribitConfig(instruments=["BTC-27DEC24-100000-C"]))
    assert [(m["id"], m["method"]) for m in msgs] == [
        (1, "public/set_heartbeat"), (2, "public/subscribe"), (3, "public/get_index_price"), (4, "public/get_instruments")]
    assert msgs[0]["params"] == {"interval": 30}
    assert msgs[1]["params"] == {"channels": ["deribit_volatility_index.btc_usd", "ticker.BTC-27DEC24-100000-C.100ms"]}
    assert msgs[2]["params"] == {"index_name": "btc_usd"}
    assert msgs[3]["params"] == {"currency": "BTC", "kind": "option", "expired": False}
    assert s.pending_acks == {"deribit_volatility_index.btc_usd", "ticker.BTC-27DEC24-100000-C.100ms"}  # type: ignore[attr-defined]


def test_acknowledgement_is_the_result_list_in_any_order_and_missing_means_rejected(caplog: pytest.LogCaptureFixture) -> None:
    s, _, _ = opened(DeribitConfig(instruments=["BTC-27DEC24-100000-C", "BTC-NOPE"]))
    reply = '{"jsonrpc":"2.0","id":2,"result":["ticker.BTC-27DEC24-100000-C.100ms","deribit_volatility_index.btc_usd"]}'
    with caplog.at_level(logging.ERROR):
        assert parse(s, reply) == (False, [])
    assert s.subscribed == {"ticker.BTC-27DEC24-100000-C.100ms", "deribit_volatility_index.btc_usd"}  # type: ignore[attr-defined]
    assert s.pending_acks == set()  # type: ignore[attr-defined]
    stats = s.stats  # type: ignore[attr-defined]
    assert stats.sub_rejections == 1
    assert stats.rejected == ["ticker.BTC-NOPE.100ms: not in the subscribe result (unknown or unavailable channel)"]
    assert any(r.levelno == logging.ERROR and r.getMessage() == "subscription rejected" for r in caplog.records)


def test_empty_result_rejects_every_requested_channel() -> None:
    s, _, _ = opened(DeribitConfig(discover=False))
    parse(s, frame("subscribe_response_empty_result.json").replace('"id":4', '"id":2'))
    assert s.stats.rejected == ["deribit_volatility_index.btc_usd: not in the subscribe result (unknown or unavailable channel)"]  # type: ignore[attr-defined]


def test_error_response_rejects_the_whole_request() -> None:
    s, _, _ = opened(DeribitConfig(instruments=["BTC-27DEC24-100000-C"], discover=False))
    parse(s, frame("error_13778_raw_unauthorized.json").replace('"id":5', '"id":2'))
    assert sorted(s.stats.rejected) == [  # type: ignore[attr-defined]
        "deribit_volatility_index.btc_usd: 13778 raw_subscriptions_not_available_for_unauthorized",
        "ticker.BTC-27DEC24-100000-C.100ms: 13778 raw_subscriptions_not_available_for_unauthorized",
    ]
    assert s.pending_acks == set() and s.subscribed == set()  # type: ignore[attr-defined]


def test_error_data_object_string_null_and_absent_are_all_understood() -> None:
    s, _, _ = opened(DeribitConfig(discover=True, dvol=False))
    parse(s, frame("error_-32602_invalid_params_object_data.json").replace('"id":9', '"id":2'))
    assert s.stats.last_error == 'public/get_index_price failed: -32602 Invalid params {"reason":"wrong format","param":"index_name"}'  # type: ignore[attr-defined]
    parse(s, frame("error_11050_invalid_json_no_id.json"))
    assert s.stats.last_error == 'error without a request id: 11050 bad_request "invalid json"'  # type: ignore[attr-defined]
    parse(s, frame("error_10028_too_many_requests_handbuilt.json").replace('"id":7', '"id":3'))
    assert s.stats.last_error == "get_instruments failed; retrying: 10028 too_many_requests"  # type: ignore[attr-defined]


def test_unmatched_and_plain_responses_are_ignored() -> None:
    s, h = session()
    assert parse(s, frame("public_test_response.json")) == (False, [])
    assert parse(s, frame("set_heartbeat_response.json")) == (False, [])
    assert h.connector.counts["unmatched_response"] == 2


def instruments_reply(request_id: int, names_days: list[tuple[str, int]], now_ns: int) -> str:
    entries = [{"instrument_name": n, "kind": "option", "expiration_timestamp": now_ns // 1_000_000 + d * 86_400_000,
                "strike": float(n.split("-")[2]), "option_type": "call", "base_currency": "BTC", "is_active": True}
               for n, d in names_days]
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "result": entries})


def test_discovery_selects_then_subscribes_in_paced_chunks() -> None:
    cfg = DeribitConfig(dvol=False, subscribe_chunk=2, subscribe_rate=2.0, max_days_to_expiry=10)
    s, clock, msgs = opened(cfg)
    assert [m["method"] for m in msgs] == ["public/set_heartbeat", "public/get_index_price", "public/get_instruments"]
    names = [("BTC-1JAN30-100000-C", 3), ("BTC-1JAN30-101000-C", 3), ("BTC-1JAN30-98000-C", 3),
             ("BTC-1JAN30-200000-C", 3), ("BTC-1FEB30-100000-C", 40)]
    parse(s, instruments_reply(3, names, clock.now), clock.now)  # before the index price: waits
    assert s.wanted == set()  # type: ignore[attr-defined]
    parse(s, '{"jsonrpc":"2.0","id":2,"result":{"index_price":100000.0,"estimated_delivery_price":100000.0}}', clock.now)
    assert s.deribit.reference == Decimal("100000.0")  # type: ignore[attr-defined]
    assert list(s.sub_queue) == ["ticker.BTC-1JAN30-100000-C.100ms", "ticker.BTC-1JAN30-101000-C.100ms",  # type: ignore[attr-defined]
                                 "ticker.BTC-1JAN30-98000-C.100ms"]
    s.periodic(clock.now)  # type: ignore[attr-defined]
    [first] = sent(s)
    assert first["method"] == "public/subscribe" and first["params"]["channels"] == [
        "ticker.BTC-1JAN30-100000-C.100ms", "ticker.BTC-1JAN30-101000-C.100ms"]
    s.periodic(clock.advance(0.25))  # type: ignore[attr-defined]
    assert s.outbox == []  # type: ignore[attr-defined]  # 2 requests/s: not yet
    s.periodic(clock.advance(0.25))  # type: ignore[attr-defined]
    [second] = sent(s)
    assert second["params"]["channels"] == ["ticker.BTC-1JAN30-98000-C.100ms"]


def test_refresh_subscribes_new_and_unsubscribes_gone_instruments() -> None:
    cfg = DeribitConfig(dvol=False, moneyness_band=0, instrument_refresh=60)
    s, clock, _ = opened(cfg)
    parse(s, '{"jsonrpc":"2.0","id":2,"result":{"index_price":100000.0}}', clock.now)
    parse(s, instruments_reply(3, [("BTC-1JAN30-100000-C", 1), ("BTC-2JAN30-100000-C", 2)], clock.now), clock.now)
    s.periodic(clock.now)  # type: ignore[attr-defined]
    [sub] = sent(s)
    parse(s, json.dumps({"jsonrpc": "2.0", "id": sub["id"], "result": sub["params"]["channels"][::-1]}))
    assert s.subscribed == {"ticker.BTC-1JAN30-100000-C.100ms", "ticker.BTC-2JAN30-100000-C.100ms"}  # type: ignore[attr-defined]
    s.periodic(clock.advance(30))  # type: ignore[attr-defined]
    assert s.outbox == []  # type: ignore[attr-defined]
    s.periodic(clock.advance(31))  # type: ignore[attr-defined]
    index_req, inst_req = sent(s)
    assert (index_req["method"], inst_req["method"]) == ("public/get_index_price", "public/get_instruments")
    parse(s, json.dumps({"jsonrpc": "2.0", "id": index_req["id"], "result": {"index_price": 101000.0}}), clock.now)
    parse(s, instruments_reply(inst_req["id"], [("BTC-2JAN30-100000-C", 1), ("BTC-9JAN30-100000-C", 8)], clock.now), clock.now)
    s.periodic(clock.advance(1))  # type: ignore[attr-defined]
    [unsub] = sent(s)
    assert unsub["method"] == "public/unsubscribe" and unsub["params"]["channels"] == ["ticker.BTC-1JAN30-100000-C.100ms"]
    parse(s, json.dumps({"jsonrpc": "2.0", "id": unsub["id"], "result": unsub["params"]["channels"]}))
    s.periodic(clock.advance(1))  # type: ignore[attr-defined]
    [sub2] = sent(s)
    assert sub2["method"] == "public/subscribe" and sub2["params"]["channels"] == ["ticker.BTC-9JAN30-100000-C.100ms"]
    assert s.subscribed == {"ticker.BTC-2JAN30-100000-C.100ms"}  # type: ignore[attr-defined]


def test_rate_limited_subscribe_is_retried_not_rejected() -> None:
    cfg = DeribitConfig(discover=False, instruments=["BTC-27DEC24-100000-C"])
    s, clock, _ = opened(cfg)
    parse(s, frame("error_10028_too_many_requests_handbuilt.json").replace('"id":7', '"id":2'), clock.now)
    assert s.stats.sub_rejections == 0  # type: ignore[attr-defined]
    s.periodic(clock.advance(1.0))  # type: ignore[attr-defined]
    assert s.outbox == []  # type: ignore[attr-defined]  # backs off for 4 request gaps
    s.periodic(clock.advance(1.1))  # type: ignore[attr-defined]
    [retry] = sent(s)
    assert retry["params"]["channels"] == ["deribit_volatility_index.btc_usd", "ticker.BTC-27DEC24-100000-C.100ms"]


def test_a_request_without_answer_ends_the_session() -> None:
    s, clock, _ = opened(DeribitConfig(ack_timeout=2.0))
    s.periodic(clock.advance(1.9))  # type: ignore[attr-defined]
    with pytest.raises(SessionError, match="no response to public/subscribe within 2.0s"):
        s.periodic(clock.advance(0.2))  # type: ignore[attr-defined]


def test_get_instruments_failure_retries_sooner() -> None:
    s, clock, _ = opened(DeribitConfig(dvol=False))
    parse(s, '{"jsonrpc":"2.0","id":2,"result":{"index_price":100000.0}}', clock.now)
    parse(s, '{"jsonrpc":"2.0","id":3,"error":{"code":10028,"message":"too_many_requests","data":null}}', clock.now)
    s.periodic(clock.advance(9))  # type: ignore[attr-defined]
    assert s.outbox == []  # type: ignore[attr-defined]
    s.periodic(clock.advance(1.5))  # type: ignore[attr-defined]
    assert [m["method"] for m in sent(s)] == ["public/get_index_price", "public/get_instruments"]


def test_msgspec_decodes_bytes_and_str_alike() -> None:
    s, _ = session()
    text = frame("dvol_btc_usd_handbuilt.json")
    out: list[EventBase] = []
    s.on_frame(text, 5, out)
    s.on_frame(text.encode(), 5, out)
    assert out[0] == out[1] and msgspec.json.encode(out[0])


# ----- validation at the edge (issue #11) ----------------------------------------------------------


def _with(text: str, **changes: str) -> str:
    """The recorded ticker frame with some ``data`` values replaced by raw JSON number text."""
    for key, value in changes.items():
        start = text.index(f'"{key}":') + len(key) + 3
        end = min(i for i in (text.find(",", start), text.find("}", start)) if i >= 0)
        text = text[:start] + value + text[end:]
    return text


LIVE = "ticker_option_BTC-30SEP22-60000-C_100ms_live_2022.json"


def test_negative_option_prices_and_theta_are_values_not_rejections() -> None:
    """Combo and spread prices can be negative at Deribit, theta always is: finite is enough."""
    s, h = session()
    data, [e] = parse(s, _with(frame(LIVE), mark_price="-0.0021", best_bid_price="-0.003"))
    assert data is True and isinstance(e, OptionTicker)
    assert (e.mark_price, e.best_bid_price, e.greeks.theta) == (Decimal("-0.0021"), Decimal("-0.003"), Decimal("-5.65962"))
    assert not h.stats.invalid


@pytest.mark.parametrize(
    ("changes", "reason", "field"),
    [
        ({"underlying_price": "-30220.5"}, "not_positive", "underlying_price"),
        ({"index_price": "0"}, "not_positive", "index_price"),
        ({"best_ask_amount": "-18.5"}, "negative", "best_ask_amount"),
        ({"mark_iv": "1e400"}, "out_of_range", "mark_iv"),
        ({"delta": "1e-400"}, "out_of_range", "greeks.delta"),
        ({"open_interest": "-1"}, "negative", "open_interest"),
        ({"timestamp": "0"}, "placeholder_timestamp", "timestamp"),
    ],
)
def test_values_that_are_not_values_become_rejected_events(changes: dict[str, str], reason: str, field: str) -> None:
    s, h = session()
    text = _with(frame(LIVE), **changes)
    s.frame = text.encode()  # as the connector loop does: the raw text goes with the rejection
    data, out = parse(s, text)
    assert data is False and len(out) == 1
    rejected = out[0]
    assert isinstance(rejected, Rejected)
    assert (rejected.reason, rejected.field, rejected.symbol) == (reason, field, "BTC-30SEP22-60000-C")
    assert rejected.raw == text
    assert h.stats.invalid == {reason: 1} and h.stats.exchange_latency.n == 0


def test_a_dvol_print_that_is_not_a_number_is_rejected() -> None:
    s, h = session()
    text = ('{"jsonrpc":"2.0","method":"subscription","params":{"channel":"deribit_volatility_index.btc_usd",'
            '"data":{"volatility":-1,"timestamp":1790133840000,"index_name":"btc_usd"}}}')
    data, out = parse(s, text)
    assert data is False and isinstance(out[0], Rejected) and out[0].reason == "negative"
    assert out[0].symbol == "BTC-DVOL" and h.stats.invalid == {"negative": 1}
