"""Every frame in ``../shared/fixtures/coinbase`` through the session: normalized or deliberately
ignored and counted, never an unexpected exception; exact values for the key frames.

The shared folder sits next to the repository (``<repo>/../shared/fixtures``) and is not part of
the project: users clone the project alone, so these tests skip when it is missing.
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from mdi.events import BBO, EventBase, SequenceGap, Trade

from coinbase_testkit import RECV_NS, Harness
from mdi_coinbase.config import CoinbaseConfig
from mdi_coinbase.session import CoinbaseSession

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "coinbase"
pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"shared fixtures not found at {FIXTURES}")
SESSION = "session_ticker_trades_heartbeats_subscriptions_live_cf_2026.jsonl"


def fixture_files() -> list[str]:
    if not FIXTURES.is_dir():
        return []
    return sorted(
        str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*") if p.is_file() and not p.name.endswith("_TEMPLATES.txt")
    )


def load(name: str) -> list[bytes]:
    """The frames of one fixture file; a FRAGMENT (a bare ticker object) is put in its envelope."""
    path = FIXTURES / name
    raw = path.read_bytes()
    if path.suffix == ".jsonl":
        return [line for line in raw.splitlines() if line.strip()]
    if path.name.startswith("FRAGMENT_ticker"):
        envelope = {"channel": "ticker", "timestamp": "2024-04-12T15:00:00.5Z", "sequence_num": 0,
                    "events": [{"type": "update", "tickers": [json.loads(raw)]}]}
        return [json.dumps(envelope).encode()]
    return [raw.strip()]


def outcome(h: Harness, session: CoinbaseSession, raw: bytes) -> str:
    """What happened to one frame; the connector loop treats exceptions as counted parse errors,
    and none is expected from these real frames, so any exception fails the test here."""
    ignored = sum(h.connector.ignored.values())
    duplicates = h.stats.duplicates
    out: list[EventBase] = []
    session.on_frame(raw, RECV_NS, out)
    h.events.extend(out)
    channel = json.loads(raw).get("channel")
    if any(isinstance(e, (BBO, Trade)) for e in out):
        return "events"
    if sum(h.connector.ignored.values()) > ignored:
        return "ignored"
    if channel == "subscriptions":
        return "ack"
    if channel == "heartbeats":
        return "heartbeat"
    if h.stats.duplicates > duplicates:
        return "duplicate"
    return "unaccounted"


def replay(name: str, **config: object) -> tuple[Harness, CoinbaseSession, Counter[str]]:
    h = Harness(CoinbaseConfig(**config))  # type: ignore[arg-type]
    session = h.session()
    session.opening_messages()
    outcomes = Counter(outcome(h, session, raw) for raw in load(name))
    return h, session, outcomes


@pytest.mark.parametrize("name", fixture_files() or ["(missing)"])
def test_every_fixture_is_normalized_or_deliberately_ignored(name: str) -> None:
    h, _session, outcomes = replay(name, symbols=["BTC-USD", "ETH-USD"])
    assert outcomes["unaccounted"] == 0, outcomes
    assert sum(outcomes.values()) == len(load(name))
    assert h.stats.parse_errors == 0


def test_live_session_replay() -> None:
    h, session, outcomes = replay(SESSION, symbols=["BTC-USD", "ETH-USD"])
    assert outcomes == Counter({"events": 219, "heartbeat": 25, "ack": 1, "ignored": 4})
    assert len(h.of(BBO)) == 160 and len(h.of(Trade)) == 279
    assert h.stats.duplicates == 0
    assert session.pending_acks == set()
    assert session.subscribed == {"ticker:BTC-USD", "ticker:ETH-USD", "market_trades:BTC-USD",
                                  "market_trades:ETH-USD", "heartbeats"}
    # the recorder also subscribed candles and level2: 2 products in 4 and 2 cumulative acks
    assert h.connector.ignored == Counter({"ack_not_requested": 12})
    # the capture kept only some channels, so sequence_num jumps where candles/l2_data frames were
    gaps = h.of(SequenceGap)
    assert {g.channel for g in gaps} == {"connection"} and len(gaps) == h.stats.gaps == 192
    assert (gaps[0].expected, gaps[0].received) == (3, 5)
    assert session.last_heartbeat == 41715 and h.connector.ignored["heartbeat_repeat"] == 0
    for product in ("BTC-USD", "ETH-USD"):  # trades come out oldest first, across frames too
        ids = [int(t.trade_id) for t in h.of(Trade) if t.symbol == product]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_wire_side_is_the_maker_side() -> None:
    """Why ``wire_side_is_maker`` defaults to true: live prints at the ask say SELL on the wire."""
    h, _, _ = replay(SESSION, symbols=["BTC-USD", "ETH-USD"], wire_side_is_maker=False)
    best: dict[str, BBO] = {}
    where: Counter[tuple[str, str]] = Counter()
    for event in h.events:
        if isinstance(event, BBO):
            best[event.symbol] = event
        elif isinstance(event, Trade) and event.symbol in best:
            quote = best[event.symbol]
            at = "ask" if event.price >= quote.ask_px else "bid" if event.price <= quote.bid_px else "inside"
            where[(event.side, at)] += 1
    assert where == Counter({("sell", "ask"): 49, ("buy", "bid"): 26, ("buy", "inside"): 2,
                             ("sell", "bid"): 1, ("sell", "inside"): 1})


def test_live_ticker_snapshot_values() -> None:
    h, _, _ = replay("ticker_snapshot_btcusd_live_cf_2026.json")
    assert h.of(BBO) == [
        BBO(venue="coinbase", symbol="BTC-USD", ts_recv=RECV_NS, ts_exchange=1_786_309_548_229_198_328,
            bid_px=Decimal("65083.66"), bid_sz=Decimal("0.20371215"), ask_px=Decimal("65083.67"), ask_sz=Decimal("0.24290402"))
    ]


def test_live_multi_trade_update_oldest_first() -> None:
    h, _, _ = replay("market_trades_update_multi_live_cf_2026.json")
    assert [(t.trade_id, t.price, t.size, t.side, t.ts_exchange) for t in h.of(Trade)] == [
        ("1068572095", Decimal("65083.67"), Decimal("0.00322434"), "buy", 1_786_309_551_376_358_000),
        ("1068572096", Decimal("65083.66"), Decimal("0.00100346"), "sell", 1_786_309_551_426_861_000),
    ]


def test_live_trade_snapshot_is_reordered() -> None:
    h, _, _ = replay("market_trades_snapshot_btcusd_live_cf_2026.json")
    ids = [int(t.trade_id) for t in h.of(Trade)]
    assert len(ids) == 100 and ids == list(range(1068571991, 1068572091))


def test_ccxt_sequence_trimmed_fractions() -> None:
    h, _, _ = replay("market_trades_update_btcusd_live_sequence_ccxt_issue27606.jsonl")
    trades = h.of(Trade)
    assert [(t.trade_id, t.ts_exchange) for t in trades] == [
        ("929248657", 1_767_160_812_445_240_000),
        ("929248658", 1_767_160_812_605_867_000),
        ("929248659", 1_767_160_813_456_090_000),
    ]
    # a fresh session expects 0 first; 1851..1853 are then contiguous
    assert [(g.expected, g.received) for g in h.of(SequenceGap)] == [(0, 1851)]


def test_repeated_heartbeat_counter_is_not_a_gap() -> None:
    h, session, _ = replay("heartbeats_duplicate_counter_live_2023-10-23_hummingbot_pr6458.jsonl")
    assert [g.channel for g in h.of(SequenceGap)] == ["connection", "connection"]  # 0 -> 150, 151 -> 158
    assert h.connector.ignored["heartbeat_repeat"] == 1 and session.last_heartbeat == 14191


def test_fragment_ticker_with_best_bid() -> None:
    h, _, _ = replay("FRAGMENT_ticker_event_btcusd_live_2024-04-12_ccxt_pr22130.json")
    bbo = h.of(BBO)[0]
    assert (bbo.bid_px, bbo.bid_sz, bbo.ask_px, bbo.ask_sz) == (
        Decimal("70741.93"), Decimal("0.00721938"), Decimal("70747.23"), Decimal("0.00878062"))


def test_client_requests_are_not_server_frames() -> None:
    h, _, outcomes = replay("subscribe_requests_client_sent_live_cf_2026.jsonl")
    assert outcomes == Counter({"ignored": 5}) and h.connector.ignored["request:subscribe"] == 5


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("ticker_snapshot_btcusd_docs_example_via_ccxt.json", "ticker_without_bbo"),
        ("ticker_batch_snapshot_dogeusd_docs_example_via_ccxt.json", "channel:ticker_batch"),
        ("l2_data_snapshot_btcusd_docs_example_via_ccxt.json", "channel:l2_data"),
    ],
)
def test_non_bbo_frames_ignored(name: str, reason: str) -> None:
    h, _, outcomes = replay(name)
    assert outcomes == Counter({"ignored": 1}) and h.connector.ignored[reason] == 1
