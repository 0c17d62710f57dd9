"""KrakenSession.on_frame / opening_messages / periodic on recorded frames (no network)."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from itertools import islice

import pytest
from kraken_testkit import Clock, Harness, frame

from mdi.connector import PARSE_ERRORS, MalformedFrame
from mdi.events import BBO, EventBase, Rejected, SequenceGap, Trade

from mdi_kraken.config import KrakenConfig
from mdi_kraken.session import KrakenSession
from mdi_kraken.sim import KrakenSimulator

RECV = 1_772_615_727_500_000_000  # 2026-03-04T09:15:27.5Z, just after the recorded frames


def feed(session: KrakenSession, *names: str, recv_ns: int = RECV) -> tuple[list[EventBase], list[bool]]:
    out: list[EventBase] = []
    flags = [session.on_frame(frame(n), recv_ns, out) for n in names]
    return out, flags


@pytest.fixture
def h() -> Harness:
    return Harness(clock=Clock())


def test_opening_messages_subscribe_ticker_bbo_and_trade_snapshot(h: Harness) -> None:
    session = h.session()
    messages = [json.loads(m) for m in session.opening_messages()]
    assert messages == [
        {"method": "subscribe", "params": {"channel": "ticker", "symbol": ["BTC/USD"], "event_trigger": "bbo"}, "req_id": 1},
        {"method": "subscribe", "params": {"channel": "trade", "symbol": ["BTC/USD"], "snapshot": True}, "req_id": 2},
    ]
    assert session.pending_acks == {"ticker:BTC-USD", "trade:BTC-USD"}


def test_only_configured_channels_are_subscribed() -> None:
    h = Harness(KrakenConfig(symbols=["BTC/USD", "ETH/USD"], trades=False, event_trigger="trades"))
    session = h.session()
    messages = [json.loads(m) for m in session.opening_messages()]
    assert messages == [
        {"method": "subscribe", "params": {"channel": "ticker", "symbol": ["BTC/USD", "ETH/USD"], "event_trigger": "trades"}, "req_id": 1}
    ]
    assert session.pending_acks == {"ticker:BTC-USD", "ticker:ETH-USD"}


def test_acks_one_per_pair_clear_pending(h: Harness) -> None:
    session = h.session()
    session.opening_messages()
    out, flags = feed(session, "subscribe_ack_ticker_bbo.json", "subscribe_ack_trade.json")
    assert out == [] and flags == [False, False]
    assert session.pending_acks == set()
    assert session.subscribed == {"ticker:BTC-USD", "trade:BTC-USD"}


def test_ticker_snapshot_without_timestamp_is_an_exact_bbo(h: Harness) -> None:
    out, flags = feed(h.session(), "ticker_snapshot_btcusd.json")
    assert flags == [True]
    assert out == [
        BBO(venue="kraken", symbol="BTC-USD", ts_recv=RECV, ts_exchange=None, bid_px=Decimal("67018.4"),
            bid_sz=Decimal("0.25000000"), ask_px=Decimal("67018.5"), ask_sz=Decimal("3.10427756"))
    ]
    assert str(out[0].bid_sz) == "0.25000000"  # trailing zeros kept: decoded from the text
    assert h.stats.exchange_latency.n == 0  # no venue timestamp, no latency sample


def test_ticker_update_with_timestamp_and_integral_numbers(h: Harness) -> None:
    out, _ = feed(h.session(), "ticker_update_btcusd_timestamp_integers.json")
    (bbo,) = out
    assert isinstance(bbo, BBO)
    assert (bbo.bid_px, bbo.bid_sz, bbo.ask_px, bbo.ask_sz) == (
        Decimal("67020"), Decimal("1.50000000"), Decimal("67020.1"), Decimal("0.00420000"))
    assert str(bbo.bid_px) == "67020"
    assert bbo.ts_exchange == 1_772_615_727_104_338_000
    assert h.stats.exchange_latency.n == 1
    assert h.stats.exchange_latency.total == pytest.approx((RECV - 1_772_615_727_104_338_000) / 1e9)


def test_trade_snapshot_then_update_are_exact_trades(h: Harness) -> None:
    out, flags = feed(h.session(), "trade_snapshot_btcusd.json", "trade_update_btcusd.json")
    assert flags == [True, True]
    assert all(isinstance(e, Trade) for e in out)
    assert [(t.trade_id, t.side, t.price, t.size) for t in out] == [
        ("88120450", "sell", Decimal("67011.2"), Decimal("0.00150000")),
        ("88120451", "buy", Decimal("67018.5"), Decimal("0.04012388")),
        ("88120452", "buy", Decimal("67018.5"), Decimal("0.00007723")),
        ("88120453", "buy", Decimal("67020.1"), Decimal("0.01044926")),
        ("88120454", "buy", Decimal("67021.0"), Decimal("0.20000000")),
    ]
    assert str(out[-1].price) == "67021.0"
    assert out[0].ts_exchange == 1_772_615_698_300_117_000
    assert out[-1].ts_exchange == 1_772_615_727_611_025_000
    assert {t.symbol for t in out} == {"BTC-USD"} and {t.venue for t in out} == {"kraken"}
    assert h.stats.gaps == 0 and h.stats.duplicates == 0
    assert h.stats.exchange_latency.n == 1  # the update only: snapshot trades are old


def test_trade_id_jump_is_a_sequence_gap(h: Harness) -> None:
    out, _ = feed(h.session(), "trade_update_btcusd.json", "trade_update_btcusd_after_gap.json")
    gaps = [e for e in out if isinstance(e, SequenceGap)]
    # A session driven without the connector loop has no repair worker: the row says so at once.
    assert gaps == [SequenceGap(venue="kraken", symbol="BTC-USD", ts_recv=RECV, channel="trade",
                                expected=88120455, received=88120460, repair="not_attempted",
                                repair_reason="no_repair_worker", repair_detail="no repair worker running",
                                missing=5)]
    assert out[-1] == Trade(venue="kraken", symbol="BTC-USD", ts_recv=RECV, ts_exchange=1_772_615_731_002_511_000,
                            trade_id="88120460", price=Decimal("67015"), size=Decimal("0.5"), side="sell")
    assert h.stats.gaps == 1


def test_gap_check_can_be_disabled() -> None:
    h = Harness(KrakenConfig(trade_gap_check=False))
    out, _ = feed(h.session(), "trade_update_btcusd.json", "trade_update_btcusd_after_gap.json")
    assert [type(e) for e in out] == [Trade, Trade, Trade] and h.stats.gaps == 0


def test_replayed_trades_are_dropped_and_counted_across_sessions(h: Harness) -> None:
    first = h.session()
    out1, _ = feed(first, "trade_snapshot_btcusd.json", "trade_update_btcusd.json")
    second = h.session()  # a reconnect: the new snapshot repeats known trades
    out2, flags = feed(second, "trade_snapshot_btcusd.json", "trade_update_btcusd.json")
    assert len(out1) == 5 and out2 == [] and flags == [True, True]
    assert h.stats.duplicates == 5 and h.stats.gaps == 0


def test_descending_snapshot_is_ordered_before_the_gap_check(h: Harness) -> None:
    session = h.session()
    feed(session, "trade_snapshot_btcusd.json")
    data = json.loads(frame("trade_update_btcusd.json"))
    data["type"] = "snapshot"
    data["data"].reverse()
    out: list[EventBase] = []
    assert session.on_frame(json.dumps(data), RECV, out)
    assert [t.trade_id for t in out] == ["88120453", "88120454"] and h.stats.gaps == 0


def test_heartbeat_pong_status_and_other_channels_are_not_data(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    session = h.session()
    with caplog.at_level(logging.INFO, logger="test.kraken"):
        out, flags = feed(session, "heartbeat.json", "pong.json", "status_online.json", "book_update_not_subscribed.json")
        assert out == [] and flags == [False, False, False, False]
        assert h.connector.pongs == 1
        assert h.connector.connection_id == 17893261155043275021  # above 2**63, exact
        assert h.connector.system_status == "online"
        assert h.connector.ignored_frames == 1
        feed(session, "status_maintenance.json")
    assert h.connector.system_status == "maintenance" and h.connector.connection_id is None
    assert [r.levelname for r in caplog.records if r.getMessage() == "kraken status"] == ["INFO", "WARNING"]


def test_rejection_with_symbol_maps_to_that_pair(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    session = h.session()
    session.opening_messages()
    with caplog.at_level(logging.ERROR, logger="test.kraken"):
        feed(session, "subscribe_reject_pair.json")
    assert h.stats.rejected == ["ticker:BTC-USD: Currency pair not supported"]
    assert h.stats.sub_rejections == 1
    assert session.pending_acks == {"trade:BTC-USD"}
    assert any(r.levelname == "ERROR" and r.getMessage() == "subscription rejected" for r in caplog.records)


def test_rejection_without_symbol_maps_through_req_id(h: Harness) -> None:
    session = h.session()
    session.opening_messages()
    feed(session, "subscribe_reject_no_symbol.json")
    assert h.stats.rejected == ["trade:BTC-USD: Unsupported event"]
    assert session.pending_acks == {"ticker:BTC-USD"}


def test_rejection_nothing_maps_to_is_still_recorded(h: Harness) -> None:
    session = h.session()
    session.opening_messages()
    out: list[EventBase] = []
    session.on_frame(b'{"error":"ESession:Invalid session","method":"subscribe","req_id":42,"success":false}', RECV, out)
    assert h.stats.rejected == ["subscribe(req_id=42): ESession:Invalid session"]
    assert session.pending_acks == {"ticker:BTC-USD", "trade:BTC-USD"}  # the ack deadline still applies


def test_failed_ping_reply_is_logged_not_a_rejection(h: Harness) -> None:
    out: list[EventBase] = []
    h.session().on_frame(b'{"error":"Unsupported field: \'params\' for the given msg type: ping","method":"ping",'
                         b'"req_id":0,"success":false}', RECV, out)
    assert out == [] and h.stats.sub_rejections == 0
    assert h.stats.last_error.startswith("ping failed: Unsupported field")


@pytest.mark.parametrize("text", ["CloudFlare WebSocket proxy restarting", b"CloudFlare WebSocket proxy restarting", "{}", "{trunc"])
def test_non_json_and_shapeless_frames_are_malformed(h: Harness, text: str | bytes) -> None:
    with pytest.raises(MalformedFrame):
        h.session().on_frame(text, RECV, [])


@pytest.mark.parametrize("text", ['[1,2]', '{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD"}]}',
                                  '{"channel":"trade","type":"update","data":[{"symbol":"BTCUSD","side":"buy","price":1,'
                                  '"qty":1,"trade_id":1,"timestamp":"2026-03-04T09:15:27.611025Z"}]}',
                                  '{"channel":"ticker","type":"update"}'])
def test_wrong_shapes_raise_errors_the_loop_counts(h: Harness, text: str) -> None:
    with pytest.raises(PARSE_ERRORS):
        h.session().on_frame(text, RECV, [])


def test_legacy_xbt_pair_maps_to_btc(h: Harness) -> None:
    data = frame("ticker_snapshot_btcusd.json").replace(b"BTC/USD", b"XBT/USD")
    out: list[EventBase] = []
    h.session().on_frame(data, RECV, out)
    assert out[0].symbol == "BTC-USD"


def test_ping_only_after_idle_period_and_once_per_period() -> None:
    clock = Clock()
    h = Harness(KrakenConfig(ping_after=10.0), clock=clock)
    session = h.session()
    start = clock.now
    session.periodic(start + 9_000_000_000)
    assert session.outbox == []
    session.periodic(start + 10_000_000_000)
    assert [json.loads(m) for m in session.outbox] == [{"method": "ping", "req_id": 1}]
    session.periodic(start + 15_000_000_000)
    assert len(session.outbox) == 1  # not again within the interval
    session.on_frame(frame("heartbeat.json"), start + 16_000_000_000, [])  # any frame resets idleness
    session.periodic(start + 24_000_000_000)
    assert len(session.outbox) == 1
    session.periodic(start + 26_000_000_000)
    assert len(session.outbox) == 2 and h.connector.pings_sent == 2


def test_ping_disabled_with_zero() -> None:
    clock = Clock()
    h = Harness(KrakenConfig(ping_after=0), clock=clock)
    session = h.session()
    session.periodic(clock.now + 3600 * 10**9)
    assert session.outbox == []


def test_simulator_demo_frames_parse_into_consistent_events() -> None:
    h = Harness()
    session = h.session()
    out: list[EventBase] = []
    frames = list(islice(KrakenSimulator().demo_frames(), 300))
    for text in frames:
        assert session.on_frame(text, RECV, out)
    bbos = [e for e in out if isinstance(e, BBO)]
    trades = [e for e in out if isinstance(e, Trade)]
    assert len(bbos) == sum('"channel":"ticker"' in f for f in frames) and trades
    assert all(b.bid_px < b.ask_px and b.bid_sz > 0 and b.ask_sz > 0 for b in bbos)
    assert all(b.ts_exchange is not None for b in bbos)
    ids = [int(t.trade_id) for t in trades]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # consecutive: no gaps, no duplicates
    assert h.stats.gaps == 0 and h.stats.duplicates == 0 and h.stats.parse_errors == 0



# ----- validation at the edge (issue #11) ----------------------------------------------------------

EPOCH_TICKER = (
    b'{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":0,"bid_qty":0,"ask":0,'
    b'"ask_qty":0,"last":0,"volume":0,"vwap":0,"low":0,"high":0,"change":0,"change_pct":0,'
    b'"timestamp":"1970-01-01T00:00:00.000000Z"}]}'
)


def test_a_zero_ticker_stamped_1970_is_not_a_bbo_and_no_latency_sample(h: Harness) -> None:
    """Seen live in 2026 for some pairs: 0/0 at the epoch is a placeholder, not a quote."""
    session = h.session()
    session.frame = EPOCH_TICKER
    out: list[EventBase] = []
    assert session.on_frame(EPOCH_TICKER, RECV, out) is False  # not data: staleness still counts
    assert [type(e) for e in out] == [Rejected]
    assert (out[0].reason, out[0].symbol, out[0].raw) == ("placeholder_quote", "BTC-USD", EPOCH_TICKER.decode())  # type: ignore[attr-defined]
    assert h.stats.exchange_latency.n == 0 and h.stats.invalid == {"placeholder_quote": 1}


def test_a_real_quote_with_an_epoch_timestamp_keeps_the_quote_without_venue_time(h: Harness) -> None:
    text = EPOCH_TICKER.replace(b'"bid":0,"bid_qty":0,"ask":0,', b'"bid":67000.1,"bid_qty":0.5,"ask":67000.2,')
    out: list[EventBase] = []
    assert h.session().on_frame(text, RECV, out) is True
    assert isinstance(out[0], BBO) and out[0].ts_exchange is None and out[0].bid_px == Decimal("67000.1")
    assert h.stats.exchange_latency.n == 0


@pytest.mark.parametrize(
    ("price", "qty", "reason", "field"),
    [("-68000.1", "0.5", "not_positive", "price"), ("68000.1", "-0.5", "not_positive", "qty"),
     ("68000.1", "0", "not_positive", "qty"), ("1e400", "0.5", "out_of_range", "price")],
)
def test_a_bad_trade_is_rejected_and_the_good_one_beside_it_kept(h: Harness, price: str, qty: str, reason: str, field: str) -> None:
    text = (
        '{"channel":"trade","type":"update","data":['
        f'{{"symbol":"BTC/USD","side":"buy","price":{price},"qty":{qty},"ord_type":"limit","trade_id":1,"timestamp":"2026-03-04T09:15:27.400000Z"}},'
        '{"symbol":"BTC/USD","side":"sell","price":68000.2,"qty":0.25,"ord_type":"limit","trade_id":2,"timestamp":"2026-03-04T09:15:27.400000Z"}]}'
    ).encode()
    session = h.session()
    session.frame = text
    out: list[EventBase] = []
    assert session.on_frame(text, RECV, out) is True
    rejected, trade = out
    assert isinstance(rejected, Rejected) and (rejected.reason, rejected.field) == (reason, field)
    assert isinstance(trade, Trade) and (trade.trade_id, trade.price) == ("2", Decimal("68000.2"))
