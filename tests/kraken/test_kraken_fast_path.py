"""The session's inlined hot path against the general path it replaced, on tricky inputs.

:class:`ReferenceSession` keeps the ``ticker``/``trade`` parsing as it was before the fast path
(``parse_rfc3339_ns``, ``mdi.validate.quote``/``trade``/``timestamp``, ``TradeIdGaps.observe`` and
``RecentIds.seen`` called per trade). The same frames go through both, each on its own connector,
and everything observable must match: events (order and fields), return values, exceptions,
counters, gap state, latency samples and log lines.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest

from mdi.connector import PARSE_ERRORS, InvalidFrame
from mdi.dedup import RecentIds
from mdi.events import BBO, EventBase, Trade
from mdi.timeutil import parse_rfc3339_ns
from mdi.validate import quote, timestamp
from mdi.validate import trade as valid_trade

from kraken_testkit import Harness
from mdi_kraken import wire
from mdi_kraken.config import KrakenConfig
from mdi_kraken.session import SIDES, KrakenSession, _sane_quote, _LOWEST, _BEYOND
from mdi_kraken.tradeids import ID_LIMIT, PairTradeIds
from mdi_kraken.wire import canonical_symbol

RECV_NS = 1_796_000_100_000_000_000


class ReferenceSession(KrakenSession):
    """The pre-fast-path parsing of ``ticker`` and ``trade`` items (commit dc778c9), verbatim."""

    def _tickers(self, items: list[wire.TickerData], kind: str | None, recv_ns: int, out: list[EventBase]) -> bool:
        sample: int | None = None
        got = False
        for item in items:
            ts = parse_rfc3339_ns(item.timestamp) if item.timestamp is not None else None
            symbol = canonical_symbol(item.symbol)
            reason, field, value = quote(item.bid, item.bid_qty, item.ask, item.ask_qty)
            if reason:
                self.invalid(reason, field, value, out, symbol, recv_ns)
                continue
            if timestamp(ts):
                ts = None
            sample = ts if ts is not None else sample
            got = True
            out.append(BBO(venue=self.venue, symbol=symbol, ts_recv=recv_ns, ts_exchange=ts, bid_px=item.bid,
                           bid_sz=item.bid_qty, ask_px=item.ask, ask_sz=item.ask_qty))
        if sample is not None and kind == "update":
            self._observe_latency("ticker", recv_ns, sample)
        return got

    def _trades(self, items: list[wire.TradeData], kind: str | None, recv_ns: int, out: list[EventBase]) -> bool:
        if kind == "snapshot":
            items = sorted(items, key=lambda t: t.trade_id)
        sample: int | None = None
        got = False
        for item in items:
            symbol = canonical_symbol(item.symbol)
            ts = parse_rfc3339_ns(item.timestamp)
            reason, field, value = valid_trade(item.price, item.qty, "price", "qty")
            if not reason and timestamp(ts):
                reason, field, value = timestamp(ts), "timestamp", item.timestamp
            if reason:
                self.invalid(reason, field, value, out, symbol, recv_ns)
                continue
            got, sample = True, ts
            if self.connector.recent_trades.seen((symbol, item.trade_id)):
                self.stats.duplicates += 1
                continue
            if self.cfg.trade_gap_check:
                self._check_trade_gap(symbol, item.trade_id, ts, recv_ns, out)
            out.append(Trade(venue=self.venue, symbol=symbol, ts_recv=recv_ns, ts_exchange=ts,
                             trade_id=str(item.trade_id), price=item.price, size=item.qty,
                             side=SIDES.get(item.side, "unknown")))
        if sample is not None and kind == "update":
            self._observe_latency("trade", recv_ns, sample)
        return got


class Lines(logging.Handler):
    """Every record of one logger, as comparable tuples."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[Any, ...]] = []

    def emit(self, record: logging.LogRecord) -> None:
        extra = {k: v for k, v in vars(record).items() if k in ("venue", "symbol", "expected", "received")}
        self.lines.append((record.levelname, record.getMessage(), sorted(extra.items())))


class Side:
    """One connector (and its sessions) fed frame by frame, recording all it does."""

    def __init__(self, name: str, session_type: type[KrakenSession], config: KrakenConfig) -> None:
        self.h = Harness(config)
        log = logging.getLogger(f"test.kraken.fastpath.{name}")
        log.setLevel(logging.DEBUG)
        log.propagate = False
        self.lines = Lines()
        log.handlers = [self.lines]
        self.h.ctx = dataclasses.replace(self.h.ctx, log=log)
        self.session_type = session_type
        self.results: list[tuple[Any, ...]] = []
        self.events: list[EventBase] = []
        self.reconnect()

    def reconnect(self) -> None:
        self.session = self.session_type(self.h.connector, self.h.ctx)

    def feed(self, frame: bytes, recv_ns: int) -> None:
        """What the connector loop does with one frame (``WsConnector._stream``)."""
        session, events = self.session, self.events
        session.frame = frame
        before = len(events)
        try:
            result: Any = session.on_frame(frame, recv_ns, events)
        except InvalidFrame as exc:
            session.invalid(exc.reason, exc.field, exc.value, events, exc.symbol, recv_ns)
            result = "invalid"
        except PARSE_ERRORS as exc:
            result = type(exc).__name__
        self.results.append((result, len(events) - before))

    def state(self) -> dict[str, Any]:
        c, s = self.h.connector, self.session.stats
        latency = s.exchange_latency
        return {
            "events": self.events, "results": self.results, "lines": self.lines.lines,
            "duplicates": s.duplicates, "gaps": s.gaps, "invalid": dict(s.invalid),
            "last_id": dict(c.trade_gaps.last_id), "last_ns": dict(c.trade_gaps.last_ns),
            "recent": len(c.recent_trades),
            "latency": (latency.counts, latency.total, latency.n),
        }


def run_both(frames: list[tuple[bytes, int] | None], config: KrakenConfig | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Feed ``frames`` (``None`` = reconnect) to a fast and a reference connector."""
    fast = Side("fast", KrakenSession, config or KrakenConfig())
    ref = Side("ref", ReferenceSession, config or KrakenConfig())
    for item in frames:
        for side in (fast, ref):
            if item is None:
                side.reconnect()
            else:
                side.feed(*item)
    return fast.state(), ref.state()


# ----- tricky values ----------------------------------------------------------------------------
NUMBERS = ["68000.1", "0.10000000", "58033", "1", "0", "-0", "0.0000", "-1.5", "1E-30", "1E-31", "9.9999999E+30",
           "1E+31", "1e400", "1e-400", "123456789012345678901234567890.5", '"NaN"', '"sNaN"', '"Infinity"',
           '"-Infinity"', '"12.5"', "0.000000000000000000000000000001", "99999999999999999999999999999999"]
STAMPS = ["2026-12-01T10:13:20.001123Z", "2026-12-01T10:13:20.999999Z", "2026-12-01T10:13:21.000000Z",
          "2026-12-01T10:13:20.1Z", "2026-12-01T10:13:20.123456789Z", "2026-12-01T10:13:20.1234567890Z",
          "2026-12-01T10:13:20Z", "2026-12-01T10:13:20.Z", "2026-12-01T10:13:20.12a456Z", "2026-12-01T10:13:20.+12345Z",
          "2026-12-01T10:13:20.1_2345Z", "2026-12-01T10:13:20.123456+00:00", "2026-12-01T10:13:20.123456+01:00",
          "2026-12-01T10:13:20,123456Z", "2026-12-01 10:13:20.123456Z", "2026-12-01T10:13:20.123456z",
          "1970-01-01T00:00:00.000000Z", "2001-09-08T00:00:00.000000Z", "2001-09-09T01:46:40.000000Z",
          "2026-12-01T10:13:20.\u0661\u0662\u0663Z", "2026-12-01T10:13:20.12\u00b2Z", "2026-13-01T10:13:20.000001Z",
          "2026-12-01T10:13:2x.000001Z", "garbage", "", "2026-12-01T10:13:20.000001Zx", "2026-12-01T10:13:20.0000001"]
PAIRS = ["BTC/USD", "XBT/USD", "ETH/EUR", "BTCUSD", "BTC/USD/X"]


def _decimal(text: str) -> Decimal:
    return Decimal(json.loads(text) if text.startswith('"') else text)


@pytest.mark.parametrize("text", NUMBERS)
def test_in_range_means_validate_accepts(text: str) -> None:
    """``1E-30 <= v < 1E+31`` (the fast check) holds exactly when validate.trade accepts v."""
    value = _decimal(text)
    try:
        fast = _LOWEST <= value < _BEYOND
    except InvalidOperation:
        fast = False
    assert fast == (valid_trade(value, Decimal(1)) == ("", "", ""))
    for other in NUMBERS:  # and a quote is only called good when quote() says so
        v2 = _decimal(other)
        if _sane_quote(value, v2, value, v2):
            assert quote(value, v2, value, v2) == ("", "", "")
        if _sane_quote(value, v2, v2, value):
            assert quote(value, v2, v2, value) == ("", "", "")


# ----- whole frames --------------------------------------------------------------------------------
def trade_frame(trades: list[dict[str, Any]], kind: str | None = "update") -> bytes:
    parts = []
    for t in trades:
        fields = [f'"{k}":{v}' for k, v in t.items()]
        parts.append("{" + ",".join(fields) + "}")
    head = '{"channel":"trade",' + (f'"type":"{kind}",' if kind is not None else "")
    return (head + '"data":[' + ",".join(parts) + "]}").encode()


def ticker_frame(items: list[dict[str, Any]], kind: str | None = "update") -> bytes:
    parts = ["{" + ",".join(f'"{k}":{v}' for k, v in t.items()) + "}" for t in items]
    head = '{"channel":"ticker",' + (f'"type":"{kind}",' if kind is not None else "")
    return (head + '"data":[' + ",".join(parts) + "]}").encode()


def random_frames(rng: random.Random, count: int) -> list[tuple[bytes, int] | None]:
    """Mostly good, consecutive trades with every kind of trouble mixed in."""
    frames: list[tuple[bytes, int] | None] = []
    next_id = {"BTC/USD": 90_000_000, "ETH/EUR": 5}
    recv = RECV_NS
    for _ in range(count):
        roll = rng.random()
        if rng.random() < 0.3:
            recv += rng.randint(1, 5_000_000)  # else: the same receive burst
        if roll < 0.02:
            frames.append(None)  # reconnect: the next frames replay some trades
            for pair in next_id:
                next_id[pair] -= rng.randint(0, 4)
            continue
        if roll < 0.2:
            items = []
            for _ in range(rng.randint(1, 3)):
                good = rng.random() < 0.6
                num = (lambda: rng.choice(["68000.1", "0.5", "0", "12"])) if good else (lambda: rng.choice(NUMBERS))
                item = {"symbol": json.dumps(rng.choice(PAIRS[:3] if good else PAIRS)), "bid": num(), "bid_qty": num(),
                        "ask": num(), "ask_qty": num()}
                if rng.random() < 0.7:
                    item["timestamp"] = json.dumps(rng.choice(STAMPS[:3] if good else STAMPS))
                items.append(item)
            frames.append((ticker_frame(items, rng.choice(["update", "update", "snapshot", None])), recv))
            continue
        trades = []
        for _ in range(rng.choice((1, 1, 2, 3))):
            pair = rng.choice(("BTC/USD", "BTC/USD", "XBT/USD", "ETH/EUR"))
            key = "BTC/USD" if pair == "XBT/USD" else pair
            trouble = rng.random()
            next_id[key] += 1
            tid = next_id[key]
            if trouble < 0.05:
                tid -= rng.randint(1, 10)  # an old id: a duplicate, or out of order
            elif trouble < 0.08:
                next_id[key] += rng.randint(1, 20)  # a jump: a gap
                tid = next_id[key]
            elif trouble < 0.09:
                tid = rng.choice((-3, 0, 2**64 - 1, 2**64, 2**70 + 1))
            price = rng.choice(NUMBERS) if trouble > 0.95 else f"{rng.randint(60000, 70000)}.{rng.randint(0, 9)}"
            qty = rng.choice(NUMBERS) if 0.9 < trouble < 0.93 else f"0.{rng.randint(1, 99_999_999):08d}"
            stamp = (rng.choice(STAMPS) if 0.85 < trouble < 0.88
                     else f"2026-12-01T10:{rng.randint(13, 14)}:{rng.randint(0, 59):02d}.{rng.randint(0, 999_999):06d}Z")
            trades.append({"symbol": json.dumps(rng.choice(PAIRS) if 0.84 < trouble < 0.85 else pair),
                           "side": json.dumps(rng.choice(("buy", "sell", "BUY", ""))), "price": price, "qty": qty,
                           "ord_type": '"limit"', "trade_id": tid, "timestamp": json.dumps(stamp)})
            if 0.83 < trouble < 0.84:
                trades[-1]["trade_id"] = '"12"'  # a string id: the whole frame is refused
        frames.append((trade_frame(trades, rng.choice(["update"] * 8 + ["snapshot", None])), recv))
    return frames


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("gap_check", [True, False])
def test_random_frames_give_what_the_general_path_gives(seed: int, gap_check: bool) -> None:
    frames = random_frames(random.Random(seed), 400)
    fast, ref = run_both(frames, KrakenConfig(trade_gap_check=gap_check, backfill=bool(seed % 2)))
    assert fast == ref
    assert any(isinstance(e, Trade) for e in fast["events"])
    assert fast["invalid"] and fast["duplicates"] and (fast["gaps"] or not gap_check)


EDGE_TRADES: list[dict[str, Any]] = [
    {"price": "68000.1", "qty": "0.5", "trade_id": 10, "timestamp": '"2026-12-01T10:13:20.000001Z"'},
    {"price": "68000.1", "qty": "0.5", "trade_id": 10, "timestamp": '"2026-12-01T10:13:20.000001Z"'},  # duplicate
    {"price": "0", "qty": "0.5", "trade_id": 11, "timestamp": '"2026-12-01T10:13:20.000002Z"'},  # refused, id not recorded
    {"price": "68000.1", "qty": "0.5", "trade_id": 11, "timestamp": '"1970-01-01T00:00:00.000000Z"'},  # placeholder time
    {"price": '"NaN"', "qty": "0.5", "trade_id": 11, "timestamp": '"1970-01-01T00:00:00.000000Z"'},  # price named first
    {"price": "68000.1", "qty": "1e400", "trade_id": 11, "timestamp": '"2026-12-01T10:13:20.000003Z"'},
    {"price": "68000.1", "qty": "0.5", "trade_id": 13, "timestamp": '"2026-12-01T10:13:20.000004Z"'},  # gap 12
    {"price": "68000.1", "qty": "0.5", "trade_id": 12, "timestamp": '"2026-12-01T10:13:20.000005Z"'},  # late: no gap
    {"price": "68000.1", "qty": "0.5", "trade_id": 14, "timestamp": '"2026-12-01T10:13:20.0000051Z"'},
]


@pytest.mark.parametrize("kind", ["update", "snapshot", None])
def test_edge_trades_in_one_frame_and_one_per_frame(kind: str | None) -> None:
    trades = [dict(t, symbol='"BTC/USD"', side='"buy"') for t in EDGE_TRADES]
    frames: list[tuple[bytes, int] | None] = [(trade_frame(trades, kind), RECV_NS), None, (trade_frame(trades, kind), RECV_NS + 1)]
    frames += [(trade_frame([t], kind), RECV_NS + 2 + i) for i, t in enumerate(trades)]
    fast, ref = run_both(frames)
    assert fast == ref
    assert fast["gaps"] and fast["duplicates"] and set(fast["invalid"]) >= {"not_positive", "placeholder_timestamp"}


def test_a_bad_pair_mid_frame_keeps_what_came_before_it() -> None:
    good = {"symbol": '"BTC/USD"', "side": '"sell"', "price": "1.5", "qty": "2", "timestamp": '"2026-12-01T10:13:20.5Z"'}
    frame = trade_frame([dict(good, trade_id=1), dict(good, symbol='"BTCUSD"', trade_id=2), dict(good, trade_id=3)])
    fast, ref = run_both([(frame, RECV_NS), (trade_frame([dict(good, trade_id=3)]), RECV_NS)])
    assert fast == ref
    assert fast["results"][0] == ("ValueError", 1)


def test_tickers_with_placeholders_and_odd_sizes() -> None:
    stamp = '"2026-12-01T10:13:20.000001Z"'
    items = [
        {"symbol": '"BTC/USD"', "bid": "0", "bid_qty": "0", "ask": "0", "ask_qty": "0", "timestamp": '"1970-01-01T00:00:00.000000Z"'},
        {"symbol": '"BTC/USD"', "bid": "68000.1", "bid_qty": "0", "ask": "68000.2", "ask_qty": "-0", "timestamp": stamp},
        {"symbol": '"BTC/USD"', "bid": "68000.1", "bid_qty": "-1", "ask": "68000.2", "ask_qty": "1"},
        {"symbol": '"BTC/USD"', "bid": "68000.1", "bid_qty": '"NaN"', "ask": "68000.2", "ask_qty": "1", "timestamp": stamp},
        {"symbol": '"XBT/USD"', "bid": "68000.1", "bid_qty": "1", "ask": "68000.2", "ask_qty": "1",
         "timestamp": '"1970-01-01T00:00:00.000000Z"'},
        {"symbol": '"BTC/USD"', "bid": "1E-31", "bid_qty": "1", "ask": "68000.2", "ask_qty": "1E+31", "timestamp": stamp},
        {"symbol": '"BTC/USD"', "bid": "68000.1", "bid_qty": "1E-31", "ask": "68000.2", "ask_qty": "1", "timestamp": stamp},
    ]
    frames: list[tuple[bytes, int] | None] = [(ticker_frame(items, kind), RECV_NS + i) for i, kind in enumerate(("update", "snapshot", None))]
    frames += [(ticker_frame([t]), RECV_NS + 10 + i) for i, t in enumerate(items)]
    fast, ref = run_both(frames)
    assert fast == ref
    assert any(isinstance(e, BBO) for e in fast["events"]) and fast["invalid"]


@pytest.mark.parametrize("pair", ['"\\u0000"', '""', '"-"'])
@pytest.mark.parametrize("stamp", ['"\\u0000026-12-01T10:13:20.000001Z"', '"------------------------.000001Z"',
                                   '"-------------------.000001Z"', '""'])
def test_the_first_trade_of_a_session_is_not_matched_against_an_empty_memory(pair: str, stamp: str) -> None:
    """Before its first trade a session remembers no pair and no second: nothing a venue sends
    may be taken for the remembered one."""
    bad = {"symbol": pair, "side": '"buy"', "price": "1.5", "qty": "2", "trade_id": 1, "timestamp": stamp}
    good = dict(bad, symbol='"BTC/USD"', trade_id=2)
    frames: list[tuple[bytes, int] | None] = [(trade_frame([bad]), RECV_NS), (trade_frame([good]), RECV_NS), None,
                                              (trade_frame([dict(good, trade_id=3)]), RECV_NS)]
    fast, ref = run_both(frames)
    assert fast == ref
    assert fast["results"][0] == ("ValueError", 0)


@pytest.mark.parametrize("seed", range(5))
def test_pair_trade_ids_answer_as_tuple_keyed_recent_ids(seed: int) -> None:
    """Same capacity, same evictions, same answers as RecentIds of ``(pair, id)`` tuples, for
    ids in and out of the int-keyed range, through both the tuple and the inline key path."""
    rng = random.Random(seed)
    fast, plain = PairTradeIds(capacity=7), RecentIds(capacity=7)
    for _ in range(3000):
        pair = rng.choice(("BTC-USD", "ETH-EUR", "X"))
        tid = rng.choice((rng.randint(0, 12), rng.randint(-3, 0), 2**64 - 1, 2**64, 2**64 + rng.randint(0, 3)))
        if rng.random() < 0.5:
            got = fast.seen((pair, tid))
        else:
            got = fast.seen_key(fast.offset(pair) + tid if 0 <= tid < ID_LIMIT else fast.key(pair, tid))
        assert got == plain.seen((pair, tid))
        assert len(fast) == len(plain)
