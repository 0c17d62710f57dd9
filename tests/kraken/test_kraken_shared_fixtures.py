"""Every frame in ../shared/fixtures/kraken goes through KrakenSession.on_frame.

Each one must become events or be deliberately ignored (not data) or counted as malformed; an
unexpected exception fails. Key frames are checked value by value. Skipped when the shared
fixtures folder is absent (the project is cloned alone).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from kraken_testkit import Harness

from mdi.connector import PARSE_ERRORS
from mdi.events import BBO, EventBase, Trade

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "kraken"
RECV = 1_800_000_000_000_000_000

pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared fixtures folder not present")


def fixture_frames() -> list[tuple[str, bytes]]:
    """(name, frame) for every frame file; ``.jsonl`` gives one frame per line."""
    if not FIXTURES.is_dir():
        return []
    frames: list[tuple[str, bytes]] = []
    for path in sorted(p for p in FIXTURES.rglob("*") if p.is_file()):
        name = path.relative_to(FIXTURES).as_posix()
        if path.name.endswith("_TEMPLATES.txt") or path.suffix == ".md":
            continue
        raw = path.read_bytes()
        if path.suffix == ".jsonl":
            frames += [(f"{name}:{i}", line) for i, line in enumerate(raw.splitlines(), 1) if line.strip()]
        else:
            frames.append((name, raw.strip() if path.suffix == ".json" else raw.rstrip(b"\n")))
    return frames


FRAMES = fixture_frames()


def outcome(name: str, data: bytes) -> tuple[str, list[EventBase], Harness]:
    """'events', 'ignored' (parsed, no data) or 'malformed' (counted by the loop)."""
    h = Harness()
    session = h.session()
    session.opening_messages()
    out: list[EventBase] = []
    try:
        is_data = session.on_frame(data, RECV, out)
    except PARSE_ERRORS:
        return "malformed", out, h
    assert is_data == bool(out), name
    return ("events" if out else "ignored"), out, h


def expected_outcome(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    if base.startswith("FRAGMENT_"):
        return "events-or-malformed"
    if base.startswith(("ticker_", "trade_")):
        return "events"
    if base.startswith("nonjson_"):
        return "malformed"
    return "ignored"


def test_fixtures_present() -> None:
    assert len(FRAMES) >= 20


@pytest.mark.parametrize(("name", "data"), FRAMES, ids=[n for n, _ in FRAMES])
def test_every_fixture_frame_is_handled(name: str, data: bytes) -> None:
    got, out, _ = outcome(name, data)
    want = expected_outcome(name)
    if want == "events-or-malformed":
        assert got in ("events", "malformed"), name
    else:
        assert got == want, name
    if name.rsplit("/", 1)[-1].startswith("ticker_"):
        assert all(isinstance(e, BBO) and e.bid_px < e.ask_px for e in out)
    if name.rsplit("/", 1)[-1].startswith("trade_"):
        assert all(isinstance(e, Trade) for e in out)


def one(name: str) -> tuple[list[EventBase], Harness]:
    data = dict(FRAMES)[name]
    _, out, h = outcome(name, data)
    return out, h


def test_ticker_snapshot_values() -> None:
    out, _ = one("ticker_snapshot_btcusd_kar.json")
    assert out == [BBO(venue="kraken", symbol="BTC-USD", ts_recv=RECV, ts_exchange=None, bid_px=Decimal("65972.8"),
                       bid_sz=Decimal("0.10000000"), ask_px=Decimal("65972.9"), ask_sz=Decimal("39.67506683"))]
    assert str(out[0].bid_sz) == "0.10000000"


def test_ticker_with_timestamp_and_integer_tokens() -> None:
    out, h = one("unattributed/ticker_update_btcusd_with_timestamp_integer_numbers_probable_live_2026-06-26.json")
    (bbo,) = out
    assert isinstance(bbo, BBO)
    assert (bbo.bid_px, bbo.bid_sz, bbo.ask_px, bbo.ask_sz) == (
        Decimal("60108.6"), Decimal("2.84311954"), Decimal("60108.7"), Decimal("0.00138853"))
    assert bbo.ts_exchange == 1_782_456_082_476_797_000
    assert h.stats.exchange_latency.n == 1


def test_docs_ticker_other_pair() -> None:
    out, _ = one("ticker_update_docs_example_via_jkorf.json")
    (bbo,) = out
    assert isinstance(bbo, BBO)
    assert (bbo.symbol, bbo.bid_px, bbo.bid_sz, bbo.ask_px) == ("ETH-USDT", Decimal("0.10025"), Decimal("740.0"), Decimal("0.10035"))


def test_trade_snapshot_values() -> None:
    out, h = one("trade_snapshot_btcusd_kar.json")
    assert out == [
        Trade(venue="kraken", symbol="BTC-USD", ts_recv=RECV, ts_exchange=1_716_813_190_826_003_000, trade_id="70635251",
              price=Decimal("68466.9"), size=Decimal("0.01919415"), side="sell"),
        Trade(venue="kraken", symbol="BTC-USD", ts_recv=RECV, ts_exchange=1_716_813_190_980_704_000, trade_id="70635252",
              price=Decimal("68471.2"), size=Decimal("0.00007723"), side="buy"),
    ]
    assert h.stats.exchange_latency.n == 0  # snapshot trades are history, not latency samples


def test_trade_update_same_timestamp_fills() -> None:
    out, _ = one("trade_update_btcusd_kar.json")
    assert [(t.trade_id, str(t.price), str(t.size), t.ts_exchange) for t in out if isinstance(t, Trade)] == [
        ("70635299", "68500.0", "0.01044926", out[0].ts_exchange),
        ("70635300", "68500.0", "0.00483192", out[0].ts_exchange),
    ]


def test_status_connection_id_above_int64() -> None:
    _, h = one("status_update_online.json")
    assert h.connector.connection_id == 12393906104898154338 and h.connector.system_status == "online"
    _, h = one("status_update_online_2.json")
    assert h.connector.connection_id == 18266300427528990701
    _, h = one("status_update_maintenance.json")
    assert h.connector.connection_id is None and h.connector.system_status == "maintenance"


def test_acks_and_rejections() -> None:
    _, h = one("subscribe_ack_ticker_btcusd.json")  # req_id 42 but result names the pair we asked for
    assert h.stats.rejected == []
    _, h = one("error_subscribe_unsupported_event.json")
    assert h.stats.rejected == ["subscribe(req_id=0): Unsupported event"]
    _, h = one("error_add_order_permission_denied.json")
    assert h.stats.rejected == [] and h.stats.last_error == "add_order failed: EGeneral:Permission denied"


def test_heartbeat_pong_and_unsubscribed_channels_are_not_data() -> None:
    _, h = one("pong.json")
    assert h.connector.pongs == 1
    _, h = one("book_update_empty_bids.json")
    assert h.connector.ignored_frames == 1
