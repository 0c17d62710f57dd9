"""The session's fast path against the general way, on the inputs where a shortcut could go wrong.

``on_frame`` decodes data frames in one pass and writes the common case of the trade checks,
the trade order and the trade-id check out by hand. :class:`Reference` is the session as it was
before (envelope then events, ``sorted``, ``mdi.validate`` per trade, ``TradeIdGaps.observe``
per id): both are fed the same frames and must leave the same events, counters and state.
"""

from __future__ import annotations

import json
import logging
import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdi.events import EventBase, Rejected, Trade
from mdi.timeutil import parse_rfc3339_ns
from mdi.validate import timestamp
from mdi.validate import trade as valid_trade

from coinbase_testkit import RECV_NS, Harness, frames
from mdi_coinbase import wire
from mdi_coinbase.config import CoinbaseConfig
from mdi_coinbase.session import CoinbaseSession, _oldest_first, _trade_order


class Reference(CoinbaseSession):
    """The general way only, with the per-trade code as it was before the fast path."""

    def on_frame(self, frame: Any, recv_ns: int, out: list[EventBase]) -> bool:
        return self._on_frame_general(frame, recv_ns, out)

    def _trades(self, events: list[wire.TradesEvent], recv_ns: int, out: list[EventBase]) -> bool:
        got = False
        recent = self.connector.recent_trades
        for event in events:
            if not event.trades:
                continue
            timed = sorted(((parse_rfc3339_ns(t.time), t) for t in event.trades), key=_trade_order)
            fresh: list[tuple[int, wire.MarketTrade]] = []
            for trade_ts, t in timed:
                reason, field, value = valid_trade(t.price, t.size)
                if not reason and timestamp(trade_ts):
                    reason, field, value = timestamp(trade_ts), "time", t.time
                if reason:
                    self.invalid(reason, field, value, out, t.product_id, recv_ns)
                    continue
                got = True
                if recent.seen((t.product_id, t.trade_id)):
                    self.stats.duplicates += 1
                    continue
                fresh.append((trade_ts, t))
                out.append(Trade(venue=self.venue, symbol=t.product_id, ts_recv=recv_ns, ts_exchange=trade_ts,
                                 trade_id=t.trade_id, price=t.price, size=t.size,
                                 side=self._sides.get(t.side, "unknown")))
            if self.cfg.trade_gap_check:
                numbered = sorted((int(t.trade_id), ts, t.product_id) for ts, t in fresh if t.trade_id.isdigit())
                for trade_id, ts, product in numbered:
                    self._check_trade_id(product, trade_id, ts, recv_ns, out)
        return got


def run(session_type: type[CoinbaseSession], data: list[bytes], config: CoinbaseConfig | None = None) -> dict[str, Any]:
    """Feed ``data`` to a fresh connector's session of ``session_type`` (then to a second
    session, as after a reconnect); everything observable afterwards, log lines included."""
    h = Harness(config)
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign,assignment]
    logger = logging.getLogger("test.coinbase")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        for _ in range(2):
            session = session_type(h.connector, h.ctx)
            session.opening_messages()
            results = []
            for item in data:
                session.frame = item
                results.append(h.feed(session, [item])[0])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    gaps = h.connector.trade_gaps
    stats = dict(vars(h.stats))
    latency = stats.pop("exchange_latency")
    return {
        "events": h.events, "results": results, "stats": stats,
        "latency": (list(latency.counts), latency.total, latency.n), "ignored": dict(h.connector.ignored),
        "next_seq": session.next_seq, "last_id": dict(gaps.last_id), "last_ns": dict(gaps.last_ns),
        "recent": len(h.connector.recent_trades), "log": [(r.levelno, r.getMessage()) for r in records],
    }


def assert_same(data: list[bytes], config: CoinbaseConfig | None = None) -> None:
    assert run(CoinbaseSession, data, config) == run(Reference, data, config)


TIMES = ["2026-10-14T09:21:07.5Z", "2026-10-14T09:21:07.500Z", "2026-10-14T09:21:07.4999Z",
         "2026-10-14T09:21:08.000001Z", "2026-10-14T09:21:06.9Z", "1970-01-01T00:00:00.000Z",
         "2026-10-14T09:21:07Z", "2026-10-14T09:21:07.123456789Z"]
PRICES = ["97412.35", "97412.350", "1", "0", "-1", "NaN", "sNaN", "Infinity", "-Infinity", "1E+31", "1E+30",
          "1E-31", "1E-30", "0E-50", "0.00000001"]
IDS = ["100", "101", "102", "103", "105", "99", "0100", "abc", "1000"]


def market_trades(seq: int, trades: list[dict[str, Any]], ts: str = "2026-10-14T09:21:09.1Z", **extra: Any) -> bytes:
    return json.dumps({"channel": "market_trades", "timestamp": ts, "sequence_num": seq,
                       "events": [{"type": "update", "trades": trades}], **extra}).encode()


def a_trade(trade_id: str, time: str = TIMES[0], price: str = "97412.35", size: str = "0.5",
            product: str = "BTC-USD", side: str = "BUY") -> dict[str, str]:
    return {"product_id": product, "trade_id": trade_id, "price": price, "size": size, "time": time, "side": side}


trade_st = st.builds(a_trade, st.sampled_from(IDS), st.sampled_from(TIMES),
                     st.sampled_from(PRICES[:3] + PRICES), st.sampled_from(PRICES[:3] + PRICES),
                     st.sampled_from(["BTC-USD", "ETH-USD"]), st.sampled_from(["BUY", "SELL", "", "buy"]))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.lists(trade_st, max_size=5)), max_size=6))
def test_random_trade_frames_same_as_reference(frames_: list[tuple[int, list[dict[str, str]]]]) -> None:
    assert_same([market_trades(seq, trades) for seq, trades in frames_])


def test_recorded_session_same_as_reference() -> None:
    recorded = frames("session_btcusd.jsonl")
    assert_same(recorded)
    assert_same(recorded[:6] + recorded[7:])  # a lost frame: sequence and trade-id gaps
    assert_same(recorded, CoinbaseConfig(wire_side_is_maker=False, trade_gap_check=False))


@pytest.mark.parametrize("raw", [
    # a type on a data frame: error / echoed request / something else
    market_trades(0, [a_trade("100")], type="error", message="boom"),
    market_trades(0, [a_trade("100")], type="subscribe"),
    market_trades(0, [a_trade("100")], type="other"),
    # values the one-pass decode refuses after the envelope would have been fine
    market_trades(0, [{"product_id": "BTC-USD", "trade_id": "1", "price": "x", "size": "1", "time": TIMES[0]}]),
    market_trades(0, [{"product_id": "BTC-USD", "trade_id": 1, "price": "1", "size": "1", "time": TIMES[0]}]),
    b'{"channel":"market_trades","timestamp":"2026-10-14T09:21:09.1Z","sequence_num":0,"events":null}',
    b'{"channel":"market_trades","sequence_num":0,"events":[{"trades":[]}],"client_id":5}',
    b'{"channel":"market_trades","sequence_num":0,"channel":"ticker","events":[]}',
    b'{"channel":"ticker","sequence_num":0,"channel":"market_trades","events":[{"trades":[]}]}',
    b'{"channel":"market_trades","sequence_num":0,"events":[],"events":[{"trades":[]}]}',
    b'{"channel":"market_trades","timestamp":"yesterday","sequence_num":0,"events":[]}',
    b'{"channel":"market_trades","timestamp":"1970-01-01T00:00:00.1Z","sequence_num":0,"events":[]}',
    market_trades(0, [a_trade("100", time="bad")]),
    market_trades(0, [a_trade("100", time="2026-10-14 09:21:07.5+00:00")]),
    b'{"channel":"ticker","timestamp":"2026-10-14T09:21:07.1Z","sequence_num":0,"events":[{"tickers":[{"product_id":'
    b'"BTC-USD","best_bid":"1","best_bid_quantity":"1","best_ask":"NaN","best_ask_quantity":"1"}]}]}',
    b'{"channel":"ticker","timestamp":"2026-10-14T09:21:07.1Z","sequence_num":0,"events":[{"tickers":[{"product_id":'
    b'"BTC-USD","best_bid":"1"}]}]}',
    b'{"channel":"l2_data","sequence_num":0,"events":[]}',
    b'{"type":"error","message":"x"}',
    b"not json",
    b"[]",
])
def test_odd_frames_same_as_reference(raw: bytes) -> None:
    """Each odd frame, then a good one (the numbering must have moved on exactly as before)."""
    assert_same([raw, market_trades(1, [a_trade("101")])])
    assert_same([raw.decode("utf-8", "replace").encode(), market_trades(1, [a_trade("101")])])


def test_refused_values_give_the_reasons_of_validate() -> None:
    trades = [a_trade(str(100 + i), price=p) for i, p in enumerate(PRICES)]
    trades += [a_trade(str(200 + i), size=p) for i, p in enumerate(PRICES)]
    trades.append(a_trade("300", time="1970-01-01T00:00:00.000Z"))
    h = Harness()
    h.feed(h.session(), [market_trades(0, trades)])
    rejected = {(r.reason, r.field, r.value) for r in h.of(Rejected)}
    assert ("placeholder_timestamp", "time", "1970-01-01T00:00:00.000Z") in rejected
    assert ("non_finite", "price", "NaN") in rejected and ("out_of_range", "size", "1E+31") in rejected
    kept = {t.trade_id for t in h.of(Trade)}
    for t in trades:
        reason = valid_trade(Decimal(t["price"]), Decimal(t["size"]))[0] or timestamp(parse_rfc3339_ns(t["time"]))
        assert (t["trade_id"] in kept) == (not reason)
    assert_same([market_trades(0, trades)])


@pytest.mark.parametrize("seed", range(30))
def test_oldest_first_is_the_stable_sort(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 8)
    times = [rng.choice([1, 2, 3]) for _ in range(n)]
    ids = [rng.choice(["9", "10", "11", "100", "a"]) for _ in range(n)]
    items = [(ts, wire.MarketTrade("BTC-USD", i, Decimal(k), Decimal(1), "")) for k, (ts, i) in enumerate(zip(times, ids))]
    shapes = [items, sorted(items, key=_trade_order), sorted(items, key=_trade_order, reverse=True)]
    for shape in shapes:
        expected = sorted(shape, key=_trade_order)
        got = _oldest_first(list(shape))
        assert [id(x) for x in got] == [id(x) for x in expected]


def test_newest_first_snapshot_is_reversed() -> None:
    trades = [a_trade(str(150 - i), time=f"2026-10-14T09:21:{50 - i:02d}.5Z") for i in range(50)]
    h = Harness()
    h.feed(h.session(), [market_trades(0, trades)])
    assert [t.trade_id for t in h.of(Trade)] == [str(i) for i in range(101, 151)]
    assert_same([market_trades(0, trades), market_trades(1, trades[:3] + [a_trade("152")])])


def test_trade_id_checks_like_observe() -> None:
    """Consecutive ids (the written-out case), holes, repeats and late ids over two products."""
    data = [market_trades(0, [a_trade("100"), a_trade("101", product="ETH-USD")]),
            market_trades(1, [a_trade("101"), a_trade("102")]),
            market_trades(2, [a_trade("105"), a_trade("103", time=TIMES[3])]),
            market_trades(3, [a_trade("104"), a_trade("99"), a_trade("102", product="ETH-USD")]),
            market_trades(4, [a_trade("0106"), a_trade("abc"), a_trade("107")])]
    assert_same(data)
