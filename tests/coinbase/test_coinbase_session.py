"""The Coinbase session on recorded frames: exact values, ordering, acks, errors, numbering."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import msgspec
import pytest

from mdi.connector import MalformedFrame
from mdi.events import BBO, EventBase, SequenceGap, Trade
from mdi.timeutil import parse_rfc3339_ns

from coinbase_testkit import RECV_NS, Harness, frame, frames
from mdi_coinbase.config import CoinbaseConfig

SESSION = "session_btcusd.jsonl"


def with_seq(raw: bytes, seq: int, **event_fields: object) -> bytes:
    """A copy of a recorded frame with another ``sequence_num`` (and first-event fields)."""
    body = json.loads(raw)
    body["sequence_num"] = seq
    body["events"][0].update(event_fields)
    return json.dumps(body).encode()


def test_opening_messages_one_channel_each() -> None:
    h = Harness(CoinbaseConfig(symbols=["BTC-USD", "ETH-USD"]))
    session = h.session()
    assert session.opening_messages() == [
        '{"type":"subscribe","channel":"ticker","product_ids":["BTC-USD","ETH-USD"]}',
        '{"type":"subscribe","channel":"market_trades","product_ids":["BTC-USD","ETH-USD"]}',
        '{"type":"subscribe","channel":"heartbeats"}',
    ]
    assert session.pending_acks == {
        "ticker:BTC-USD", "ticker:ETH-USD", "market_trades:BTC-USD", "market_trades:ETH-USD", "heartbeats",
    }


def test_opening_messages_follow_config() -> None:
    session = Harness(CoinbaseConfig(trades=False, heartbeats=False)).session()
    assert session.opening_messages() == ['{"type":"subscribe","channel":"ticker","product_ids":["BTC-USD"]}']
    assert session.pending_acks == {"ticker:BTC-USD"}


def test_session_replay_exact_events() -> None:
    h = Harness()
    session = h.session()
    session.opening_messages()
    data = h.feed(session, frames(SESSION))
    # data frames: ticker (0,5,8,11) and market_trades (2,6,9); acks and heartbeats are not data
    assert data == [True, False, True, False, False, True, True, False, True, True, False, True, False, False]
    assert session.pending_acks == set()
    assert session.subscribed == {"ticker:BTC-USD", "market_trades:BTC-USD", "heartbeats"}
    assert h.stats.parse_errors == 0 and h.stats.gaps == 0 and h.stats.duplicates == 0
    assert h.of(SequenceGap) == []
    assert h.of(BBO) == [
        BBO(venue="coinbase", symbol="BTC-USD", ts_recv=RECV_NS, ts_exchange=1_791_969_667_118_204_337,
            bid_px=Decimal("97412.34"), bid_sz=Decimal("0.41500000"), ask_px=Decimal("97412.35"), ask_sz=Decimal("0.0102")),
        BBO(venue="coinbase", symbol="BTC-USD", ts_recv=RECV_NS, ts_exchange=1_791_969_667_301_947_000,
            bid_px=Decimal("97412.34"), bid_sz=Decimal("0.39800000"), ask_px=Decimal("97412.35"), ask_sz=Decimal("0.00007299")),
        BBO(venue="coinbase", symbol="BTC-USD", ts_recv=RECV_NS, ts_exchange=1_791_969_668_020_611_852,
            bid_px=Decimal("97412.35"), bid_sz=Decimal("0.00420000"), ask_px=Decimal("97412.36"), ask_sz=Decimal("1.20531442")),
        BBO(venue="coinbase", symbol="BTC-USD", ts_recv=RECV_NS, ts_exchange=1_791_969_669_133_907_425,
            bid_px=Decimal("97412.1"), bid_sz=Decimal("0.5"), ask_px=Decimal("97412.36"), ask_sz=Decimal("1.15031442")),
    ]
    assert str(h.of(BBO)[0].bid_sz) == "0.41500000"  # trailing zeros kept: exact text, never a float


def test_trades_oldest_first_with_taker_side() -> None:
    h = Harness()
    h.feed(h.session(), frames(SESSION))
    trades = h.of(Trade)
    assert [t.trade_id for t in trades] == [str(i) for i in range(1131400801, 1131400811)]
    first, last = trades[0], trades[-1]
    assert first == Trade(venue="coinbase", symbol="BTC-USD", ts_recv=RECV_NS, ts_exchange=1_791_969_661_000_318_000,
                          trade_id="1131400801", price=Decimal("97412"), size=Decimal("1"), side="buy")
    assert last == Trade(venue="coinbase", symbol="BTC-USD", ts_recv=RECV_NS, ts_exchange=1_791_969_668_377_004_000,
                         trade_id="1131400810", price=Decimal("97412.35"), size=Decimal("0.00420000"), side="sell")
    # the wire side is the maker's: SELL at the ask is a taker buy
    assert [t.side for t in trades[-3:]] == ["buy", "buy", "sell"]
    # two fills with one time keep trade-id order
    assert trades[2].ts_exchange == trades[3].ts_exchange and trades[2].trade_id < trades[3].trade_id


def test_wire_side_passed_through_when_configured() -> None:
    h = Harness(CoinbaseConfig(wire_side_is_maker=False))
    h.feed(h.session(), frames(SESSION))
    assert [t.side for t in h.of(Trade)[-3:]] == ["sell", "sell", "buy"]


def test_trades_deduplicated_across_sessions() -> None:
    h = Harness()
    h.feed(h.session(), frames(SESSION))
    before = len(h.of(Trade))
    h.feed(h.session(), [frame("market_trades_snapshot_after_reconnect.json")])
    new = h.of(Trade)[before:]
    assert [(t.trade_id, t.price, t.size, t.side) for t in new] == [("1131400811", Decimal("97412.1"), Decimal("0.31"), "sell")]
    assert h.stats.duplicates == 2
    assert h.stats.gaps == 0  # the new session's numbering starts again at 0


def test_sequence_gap_is_one_counter_across_channels() -> None:
    h = Harness()
    session = h.session()
    recorded = frames(SESSION)
    h.feed(session, recorded[:6] + recorded[7:])  # frame 6 (market_trades) lost
    gaps = h.of(SequenceGap)
    # The lost frame shows twice: in the connection's numbering, and as a hole in the product's
    # trade ids (which a session outside the connector loop cannot repair, and says so).
    assert gaps == [
        SequenceGap(venue="coinbase", symbol="*", ts_recv=RECV_NS, channel="connection", expected=6, received=7),
        SequenceGap(venue="coinbase", symbol="BTC-USD", ts_recv=RECV_NS, channel="trade", expected=1131400806,
                    received=1131400808, repair="not_attempted", repair_reason="no_repair_worker",
                    repair_detail="no repair worker running", missing=2),
    ]
    assert h.stats.gaps == 2
    h.feed(session, [recorded[3]])  # an old number again: not a gap, counted
    assert h.stats.gaps == 2
    assert h.connector.ignored["sequence_behind"] == 1


def test_heartbeat_counter_gap_and_repeat() -> None:
    h = Harness()
    session = h.session()
    beat = frames(SESSION)[7]
    h.feed(session, [with_seq(beat, 0, heartbeat_counter=10), with_seq(beat, 1, heartbeat_counter=11),
                     with_seq(beat, 2, heartbeat_counter=11), with_seq(beat, 3, heartbeat_counter=14),
                     with_seq(beat, 4, heartbeat_counter=13)])
    assert h.of(SequenceGap) == [
        SequenceGap(venue="coinbase", symbol="*", ts_recv=RECV_NS, channel="heartbeats", expected=12, received=14)
    ]
    assert h.connector.ignored["heartbeat_repeat"] == 2  # 11 again, and 13 after 14
    assert session.last_heartbeat == 14
    assert h.connector.heartbeats == 5


def test_repeated_heartbeat_in_recorded_session_is_not_a_gap() -> None:
    h = Harness()
    session = h.session()
    h.feed(session, frames(SESSION))
    assert h.connector.heartbeats == 4
    assert h.connector.ignored["heartbeat_repeat"] == 1
    assert session.last_heartbeat == 52003


def test_heartbeat_counter_as_string() -> None:
    h = Harness()
    session = h.session()
    assert h.feed(session, [frame("heartbeats_counter_string.json")]) == [False]
    assert session.last_heartbeat == 3049 and h.stats.parse_errors == 0


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("ticker_update_old_format_no_bbo.json", "ticker_without_bbo"),
        ("ticker_batch_update.json", "channel:ticker_batch"),
        ("l2_data_update.json", "channel:l2_data"),
    ],
)
def test_frames_deliberately_ignored_and_counted(name: str, reason: str) -> None:
    h = Harness()
    assert h.feed(h.session(), [frame(name)]) == [False]
    assert h.events == []
    assert h.connector.ignored[reason] == 1
    assert h.stats.parse_errors == 0


def test_error_after_subscribe_rejects_oldest_pending_request(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness()
    session = h.session()
    session.opening_messages()
    with caplog.at_level(logging.ERROR, logger="test.coinbase"):
        h.feed(session, [frame("error_failed_to_subscribe.json")])
    assert h.stats.rejected == ["ticker:BTC-USD: Failed to subscribe: BTC-USDX is not a valid product"]
    assert h.stats.sub_rejections == 1
    assert session.pending_acks == {"market_trades:BTC-USD", "heartbeats"}
    assert any(r.levelno == logging.ERROR and r.message == "subscription rejected" for r in caplog.records)
    recorded = frames(SESSION)
    h.feed(session, [recorded[2], recorded[4]])  # market_trades snapshot and the cumulative ack
    assert session.pending_acks == set()
    assert session.subscribed == {"market_trades:BTC-USD", "heartbeats"}


def test_error_with_nothing_pending_is_last_error(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness()
    session = h.session()
    session.opening_messages()
    h.feed(session, frames(SESSION)[:5])
    with caplog.at_level(logging.ERROR, logger="test.coinbase"):
        assert h.feed(session, [frame("error_authentication_failure.json")]) == [False]
    assert h.stats.last_error == "venue error: authentication failure"
    assert h.stats.sub_rejections == 0 and h.stats.rejected == []
    assert any("authentication failure" in r.getMessage() for r in caplog.records)


def test_ack_for_a_channel_not_requested_is_counted() -> None:
    h = Harness(CoinbaseConfig(trades=False))
    session = h.session()
    session.opening_messages()
    h.feed(session, [frames(SESSION)[4]])
    assert session.subscribed == {"ticker:BTC-USD", "heartbeats"}
    assert h.connector.ignored["ack_not_requested"] == 1


def test_exchange_latency_observed_once_per_frame() -> None:
    h = Harness()
    h.feed(h.session(), frames(SESSION))
    latency = h.stats.exchange_latency
    assert latency.n == 14
    assert latency.total == pytest.approx(sum(RECV_NS - t for t in _envelope_times()) / 1e9)


def _envelope_times() -> list[int]:
    return [parse_rfc3339_ns(json.loads(line)["timestamp"]) for line in frames(SESSION)]


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (frame("not_json.txt"), MalformedFrame),
        (b"\x00\xff\xfe", MalformedFrame),
        (b'{"sequence_num":1,"events":[]}', MalformedFrame),
        (b"[1, 2]", msgspec.ValidationError),
        (b'{"channel":"ticker","timestamp":"2026-10-14T09:21:07Z","events":[{"tickers":[{"product_id":"BTC-USD",'
         b'"best_bid":"","best_bid_quantity":"1","best_ask":"2","best_ask_quantity":"1"}]}]}', msgspec.ValidationError),
        (b'{"channel":"market_trades","timestamp":"yesterday","events":[]}', ValueError),
        (b'{"channel":"heartbeats","events":[{"heartbeat_counter":"x"}]}', ValueError),
    ],
)
def test_malformed_frames_raise_parse_errors(raw: bytes, error: type[Exception]) -> None:
    session = Harness().session()
    out: list[EventBase] = []
    with pytest.raises(error):
        session.on_frame(raw, RECV_NS, out)
    assert out == []
