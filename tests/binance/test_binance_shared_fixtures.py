"""Every frame under ``../shared/fixtures/binance/`` through a session's ``on_frame``.

Each one must become events, be deliberately ignored (control replies), or raise one of the
parse errors the connector loop counts and skips; nothing else. Key frames are checked exactly.
The folder sits beside the repository; users who clone the project alone skip this module.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from mdi.connector import PARSE_ERRORS
from mdi.events import EventBase, MarkPrice

from binance_helpers import Harness, make_config, make_session

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "binance"
MS = 1_000_000

pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared fixtures folder absent (project cloned alone)")


def fixture_frames() -> list[tuple[str, bytes]]:
    """(label, frame) for every frame: .json one, .jsonl one per line, .txt raw text."""
    if not FIXTURES.is_dir():
        return []
    frames: list[tuple[str, bytes]] = []
    for path in sorted(FIXTURES.rglob("*")):
        name = str(path.relative_to(FIXTURES))
        if not path.is_file() or path.name.endswith("_TEMPLATES.txt") or path.suffix == ".md":
            continue
        data = path.read_bytes()
        if path.suffix == ".jsonl":
            frames += [(f"{name}:{n}", line) for n, line in enumerate(data.splitlines(), 1) if line.strip()]
        else:
            frames.append((name, data.strip()))
    return frames


FRAMES = fixture_frames()
EXPECTED_EVENTS = {
    "combined_allMarketMarkPrice_arr_usdm_live_cmp_2021.json": 2,
    "combined_markPrice_1s_btcbusd_quarterly_T0_tardis.json": 1,
    "combined_markPrice_1s_btcusdt_2020_tardis.json": 1,
    "combined_markPrice_3s_btcusdt_2019_no_index_tardis.json": 1,
    "combined_markPrice_3s_btcusdt_live_cmp_2021.json": 1,
    "raw_markPriceUpdate_btcusdt_docs_example.json": 1,
    "raw_markPriceUpdate_coinm_delivery_docs_example_r_empty.json": 1,
    "raw_markPrice_1s_btcusdt_live_2021-12-21_bfcp_pr5.json": 1,
    "unattributed/combined_markPrice_1s_btcusdt_probable_live_2026-02-16.json": 1,
    "unattributed/combined_markPrice_1s_btcusdt_with_ap_probable_live_2026-10.json": 1,
}
CONTROL = {
    "error_invalid_stream_live_wrapped_ktb_issue1121.json",
    "get_property_response_docs_example.json",
    "list_subscriptions_response_docs_example.json",
    "subscribe_response_docs_example.json",
    "subscribe_response_live_fstream_id_first_spotdocs_issue14.json",
}


def feed(data: bytes) -> tuple[str, list[EventBase], Harness, object]:
    """Outcome of one frame on a session with SUBSCRIBE ids 1-3 outstanding."""
    config = make_config("ws://127.0.0.1:1/market/stream", symbols=["BTCUSDT", "ETHUSDT", "SOLUSDT"], streams_per_request=1)
    session, harness = make_session(config)
    session.opening_messages()
    out: list[EventBase] = []
    try:
        got_data = session.on_frame(data, 1_800_000_000_000 * MS, out)
    except PARSE_ERRORS as exc:
        return f"counted:{type(exc).__name__}", out, harness, session
    return ("events" if got_data else "ignored"), out, harness, session


@pytest.mark.parametrize(("label", "data"), FRAMES, ids=[label for label, _ in FRAMES])
def test_every_fixture_is_handled(label: str, data: bytes) -> None:
    outcome, out, _, _ = feed(data)
    if label in EXPECTED_EVENTS:
        assert outcome == "events"
        assert len(out) == EXPECTED_EVENTS[label]
        assert all(isinstance(e, MarkPrice) and e.mark_price > 0 for e in out)
    elif label in CONTROL:
        assert (outcome, out) == ("ignored", [])
    else:  # a file added later: any of the three outcomes, never another exception
        assert outcome == "events" or outcome == "ignored" or outcome.startswith("counted:")


def test_all_known_files_are_present() -> None:
    labels = {label for label, _ in FRAMES}
    assert set(EXPECTED_EVENTS) | CONTROL <= labels


def by_name(name: str) -> bytes:
    return dict(FRAMES)[name]


def test_docs_example_exact() -> None:
    _, out, _, _ = feed(by_name("raw_markPriceUpdate_btcusdt_docs_example.json"))
    (m,) = out
    assert isinstance(m, MarkPrice)
    assert (m.symbol, m.ts_exchange, m.next_funding_ns) == ("BTC-USDT-PERP", 1562305380000 * MS, 1562306400000 * MS)
    assert (m.mark_price, m.index_price, m.est_settle_price, m.funding_rate) == (
        Decimal("11794.15000000"),
        Decimal("11784.62659091"),
        Decimal("11784.25641265"),
        Decimal("0.00038167"),
    )


def test_2026_frame_with_ap_exact() -> None:
    _, out, _, _ = feed(by_name("unattributed/combined_markPrice_1s_btcusdt_with_ap_probable_live_2026-10.json"))
    (m,) = out
    assert isinstance(m, MarkPrice)
    assert (str(m.mark_price), str(m.est_settle_price), str(m.index_price), str(m.funding_rate)) == (
        "84756.35776087",
        "84830.21202428",
        "84788.51847826",
        "-0.00005353",
    )
    assert (m.ts_exchange, m.next_funding_ns) == (1791044809001 * MS, 1791072000000 * MS)


def test_delivery_and_old_payloads() -> None:
    (coinm,) = feed(by_name("raw_markPriceUpdate_coinm_delivery_docs_example_r_empty.json"))[1]
    (quarterly,) = feed(by_name("combined_markPrice_1s_btcbusd_quarterly_T0_tardis.json"))[1]
    (old,) = feed(by_name("combined_markPrice_3s_btcusdt_2019_no_index_tardis.json"))[1]
    assert isinstance(coinm, MarkPrice) and isinstance(quarterly, MarkPrice) and isinstance(old, MarkPrice)
    assert (coinm.symbol, coinm.funding_rate, coinm.next_funding_ns) == ("BTC-USD-201225", None, None)
    assert (quarterly.symbol, quarterly.funding_rate, quarterly.next_funding_ns) == ("BTC-BUSD-210129", Decimal("0E-8"), None)
    assert (old.index_price, old.est_settle_price, old.mark_price) == (None, None, Decimal("8291.34697815"))


def test_acks_and_errors_act_on_the_right_request() -> None:
    _, _, _, acked = feed(by_name("subscribe_response_live_fstream_id_first_spotdocs_issue14.json"))
    assert acked.subscribed == {"btcusdt@markPrice@1s"}  # type: ignore[attr-defined]
    _, _, harness, _ = feed(by_name("error_invalid_stream_live_wrapped_ktb_issue1121.json"))
    assert harness.stats.rejected == ["ethusdt@markPrice@1s: code 2: Invalid request: invalid stream"]
