"""Recorded Bitstamp frames through one session: exact events, and every odd frame accounted for."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from mdi.api import BBO, SessionError, Trade
from mdi.testing.harness import ConnectorHarness, read_frames

from mdi_bitstamp.config import BitstampConfig
from mdi_bitstamp.connector import BitstampConnector, BitstampSession

FRAMES = read_frames(Path(__file__).parent / "frames" / "session_btcusd.jsonl")
RECV_NS = 1_791_969_670_000_000_000


def harness(**config: object) -> tuple[ConnectorHarness, BitstampSession]:
    h = ConnectorHarness(BitstampConnector(BitstampConfig(**config)))  # type: ignore[arg-type]
    session = h.session()
    assert isinstance(session, BitstampSession)
    return h, session


def test_subscribes_one_channel_each_and_waits_for_both_acks() -> None:
    h, session = harness()
    assert session.opening_messages() == [
        '{"event":"bts:subscribe","data":{"channel":"live_trades_btcusd"}}',
        '{"event":"bts:subscribe","data":{"channel":"order_book_btcusd"}}',
    ]
    assert session.pending_acks == {"live_trades_btcusd", "order_book_btcusd"}
    h.feed(session, FRAMES[:1], RECV_NS)
    assert session.pending_acks == {"order_book_btcusd"}


def test_recorded_session_gives_exact_trades_and_top_of_book() -> None:
    h, session = harness()
    session.opening_messages()
    data = h.feed(session, FRAMES, RECV_NS)
    assert data == [False, False, True, True, True, False, True, True, False, False, False]
    assert not session.pending_acks and session.subscribed == {"live_trades_btcusd", "order_book_btcusd"}
    assert [(b.bid_px, b.bid_sz, b.ask_px, b.ask_sz, b.ts_exchange) for b in h.of(BBO)] == [
        (Decimal("97412"), Decimal("0.41500000"), Decimal("97413"), Decimal("0.01020000"), 1_791_969_667_301_947_000)
    ]
    trades = h.of(Trade)
    assert [(t.trade_id, t.price, t.size, t.side, t.ts_exchange) for t in trades] == [
        ("412345678", Decimal("97413"), Decimal("0.00150000"), "buy", 1_791_969_667_402_118_000),
        ("412345679", Decimal("97412.1"), Decimal("0.10000000"), "sell", 1_791_969_668_020_611_000),
    ]
    assert {(t.venue, t.symbol, t.ts_recv) for t in trades} == {("bitstamp", "BTC-USD", RECV_NS)}
    assert h.stats.duplicates == 1 and h.stats.parse_errors == 2
    assert session.heartbeats == 1
    assert h.connector.ignored == {"book_side_empty": 1, "event:bts:unsubscription_succeeded": 1}
    assert h.stats.exchange_latency.n == 3  # the book and the two new trades


def test_error_while_subscribing_rejects_the_pending_channels() -> None:
    h, session = harness(bbo=False)
    session.opening_messages()
    h.feed(session, [b'{"event":"bts:error","channel":"","data":{"code":null,"message":"Bad subscription string."}}'], RECV_NS)
    assert not session.pending_acks and h.stats.sub_rejections == 1
    assert h.stats.rejected == ["live_trades_btcusd: Bad subscription string."]


def test_error_once_live_and_request_reconnect_end_the_session() -> None:
    h, session = harness()
    session.opening_messages()
    h.feed(session, FRAMES[:2], RECV_NS)
    with pytest.raises(SessionError, match="Bad request"):
        session.on_frame(b'{"event":"bts:error","channel":"","data":{"message":"Bad request"}}', RECV_NS, [])
    with pytest.raises(SessionError, match="request_reconnect"):
        session.on_frame(b'{"event":"bts:request_reconnect","channel":"","data":""}', RECV_NS, [])


def test_heartbeat_requests_are_paced_through_the_outbox() -> None:
    _, session = harness(heartbeat_interval=5.0)
    session.periodic(RECV_NS)
    session.periodic(RECV_NS + 4_000_000_000)
    session.periodic(RECV_NS + 5_000_000_000)
    assert session.outbox == ['{"event":"bts:heartbeat"}'] * 2


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"symbols": []}, "at least one pair"),
        ({"symbols": ["btcusd"]}, "BASE-QUOTE"),
        ({"trades": False, "bbo": False}, "at least one of trades, bbo"),
        ({"heartbeat_interval": 0}, "heartbeat_interval"),
    ],
)
def test_bad_config_says_what_to_fix(config: dict[str, object], message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=message):
        msgspec.convert(config, BitstampConfig)
