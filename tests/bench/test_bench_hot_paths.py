"""The hot-path changes made for the benchmark keep their contracts: every fast path gives what the
slow path it bypasses gives, exactly.

- ``mdi.stats``: the latency reservoir (exact percentiles) and integer bucket bounds;
- ``mdi.timeutil``: the RFC 3339 fast path against an independent reference;
- ``mdi.dedup``: the set+deque ``RecentIds``;
- ``mdi_parquet``: text rows -> Arrow equals column-by-column conversion for every flat event kind,
  every awkward decimal and string, and the real sink keeps rows exact across conversion slices;
- ``mdi_kraken``: the one-pass data-frame decoder equals the envelope path on recorded frames,
  and exchange latency is sampled once per channel per receive burst;
- transports: picows ``take_buffered`` and httpx-ws batching against a real server.
"""

from __future__ import annotations

import calendar
import logging
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

import anyio
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.server import ServerConnection, serve

from mdi.channel import BatchChannel
from mdi.components import ConnectorContext, SinkContext
from mdi.dedup import RecentIds
from mdi.events import (
    BBO,
    ConnectionStatus,
    EventBase,
    Greeks,
    IVSurfaceSnapshot,
    MarkPrice,
    OptionTicker,
    RejectCount,
    SequenceGap,
    SmilePoint,
    SpotMid,
    Trade,
    VenueMid,
    VolIndex,
    stamp_seq,
)
from mdi.stats import DEFAULT_LATENCY_BUCKETS, Histogram, Reservoir, SinkStats, VenueStats
from mdi.timeutil import parse_rfc3339_ns
from mdi.transport import ConnectionClosed, get_transport
from mdi_kraken.config import KrakenConfig
from mdi_kraken.connector import KrakenConnector
from mdi_kraken.session import KrakenSession
from mdi_parquet.config import ParquetSinkConfig
from mdi_parquet.schema import Scales, stream_schema
from mdi_parquet.sink import CONVERT_ROWS, PARSE_ROWS, ParquetSink

D = Decimal
T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
KRAKEN_FRAMES = Path(__file__).resolve().parents[1] / "kraken" / "frames"


# ----- mdi.stats ------------------------------------------------------------------------------
def test_reservoir_keeps_all_values_until_full_then_exactly_capacity() -> None:
    reservoir = Reservoir(capacity=100, seed=1)
    reservoir.extend([float(v) for v in range(60)])
    assert sorted(reservoir.values) == [float(v) for v in range(60)] and reservoir.seen == 60
    reservoir.extend([float(v) for v in range(60, 10_000)])
    assert len(reservoir.values) == 100 and reservoir.seen == 10_000
    assert set(reservoir.values) <= {float(v) for v in range(10_000)}
    reservoir.reset()
    assert reservoir.values == [] and reservoir.seen == 0 and reservoir.quantile(0.5) == 0.0


def test_reservoir_quantiles_are_nearest_rank_and_the_sample_is_uniform() -> None:
    exact = Reservoir(capacity=1000, seed=2)
    exact.extend([float(v) for v in range(1, 101)])
    assert (exact.quantile(0.5), exact.quantile(0.99), exact.quantile(0.999), exact.quantile(1.0)) == (50.0, 99.0, 100.0, 100.0)
    sampled = Reservoir(capacity=5000, seed=3)
    for start in range(0, 1_000_000, 997):  # batches of odd sizes, as the router offers them
        sampled.extend([float(v) for v in range(start, min(start + 997, 1_000_000))])
    # A uniform 5000-sample of 0..999999: every decile holds about a tenth (binomial sd ~21).
    counts = [0] * 10
    for value in sampled.values:
        counts[int(value) // 100_000] += 1
    assert all(400 <= c <= 600 for c in counts), counts
    assert 470_000 <= sampled.quantile(0.5) <= 530_000


def test_histogram_samples_are_off_by_default_and_see_every_observation_when_on() -> None:
    histogram = Histogram()
    histogram.observe(0.002)
    assert histogram.samples is None
    samples = histogram.keep_samples(capacity=100)
    histogram.observe(0.003)
    histogram.observe_ns(v for v in (1_000_000, 40_000_000))
    assert sorted(samples.values) == [0.001, 0.003, 0.04] and histogram.n == 4


def test_integer_bounds_put_values_in_the_same_buckets_as_seconds_did() -> None:
    histogram = Histogram()
    probes = [b + d for b in histogram.bounds_ns for d in (-1, 0, 1)] + [0, -5, 10**12]
    histogram.observe_ns(probes)
    expected = Histogram()
    for v in probes:
        expected.observe(v / 1e9)
    assert histogram.counts == expected.counts
    assert histogram.bounds_ns == [round(b * 1e9) for b in DEFAULT_LATENCY_BUCKETS]


# ----- mdi.timeutil ----------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)),
    st.text(alphabet="0123456789", min_size=1, max_size=9),
)
def test_rfc3339_fast_path_equals_an_independent_reference(moment: datetime, digits: str) -> None:
    whole = moment.replace(microsecond=0)
    text = f"{whole:%Y-%m-%dT%H:%M:%S}.{digits}Z"
    reference = calendar.timegm(whole.timetuple()) * 10**9 + int(digits.ljust(9, "0"))
    assert parse_rfc3339_ns(text) == reference
    offset = (whole + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S") + f".{digits}+02:00"
    assert parse_rfc3339_ns(offset) == reference  # the general path agrees


@pytest.mark.parametrize("text", ["2026-01-01T00:00:00.Z", "2026-01-01T00:00:00.1234567890Z", "2026-01-01T00:00:00.12a4Z",
                                  "2026-13-01T00:00:00.5Z", "2026-01-01T00:00:00.5Q"])
def test_rfc3339_fast_path_still_rejects_what_the_parser_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339_ns(text)


# ----- mdi.dedup --------------------------------------------------------------------------------
def test_recent_ids_remember_exactly_the_last_capacity_ids() -> None:
    ids = RecentIds(capacity=3)
    assert [ids.seen(k) for k in ("a", "b", "a", "c", "d")] == [False, False, True, False, False]
    assert len(ids) == 3
    assert ids.seen("a") is False  # "a" was the oldest and left when "d" came
    assert [ids.seen(k) for k in ("c", "d", "a")] == [True, True, True]


# ----- mdi_parquet ------------------------------------------------------------------------------
def every_kind() -> list[EventBase]:
    expiry = T0 + 86_400 * 10**9 * 30
    return [
        BBO(venue="kraken", symbol="BTC-USD", ts_recv=T0, ts_exchange=T0 - 3, bid_px=D("67123.4"), bid_sz=D("0.10000000"),
            ask_px=D("67123.5"), ask_sz=D("1E-8")),
        Trade(venue="coinbase", symbol="BTC-USD", ts_recv=T0 + 1, trade_id="22381691", price=D("67120.01"),
              size=D("0.00012345"), side="sell"),
        OptionTicker(venue="deribit", symbol="BTC-30JAN26-70000-C", ts_recv=T0 + 2, expiry_ns=expiry, strike=D("70000"),
                     option_type="C", mark_iv=D("81.9"), best_bid_price=D("0.274"), underlying_index="BTC-30JAN26",
                     greeks=Greeks(delta=D("0.69025"), gamma=D("0.00002"), theta=D("-16.12758"))),
        OptionTicker(venue="deribit", symbol="BTC-30JAN26-20000-P", ts_recv=T0 + 3, expiry_ns=expiry, strike=D("20000"),
                     option_type="P"),
        VolIndex(venue="deribit", symbol="BTC-DVOL", ts_recv=T0 + 4, index_name="btc_usd", value=D("45.67")),
        MarkPrice(venue="binance", symbol="BTC-USDT-PERP", ts_recv=T0 + 5, mark_price=D("58940.14924532"),
                  funding_rate=D("-0.00005353"), next_funding_ns=T0 + 8 * 3600 * 10**9),
        ConnectionStatus(venue="kraken", symbol="*", ts_recv=T0 + 6, state="stale", detail='no "data": NaN, -Infinity'),
        SequenceGap(venue="coinbase", symbol="BTC-USD", ts_recv=T0 + 7, channel="market_trades", expected=5, received=9),
        SpotMid(venue="mdi", symbol="BTC-USD", ts_recv=T0 + 8, ts_bucket=T0, mid=D("67121.75"), quality="Ok",
                venues_used=["kraken", "coinbase"], divergence_bps=D("0.49"),
                venue_mids=[VenueMid(venue="kraken", mid=D("67123.45"), age_ms=120, fresh=True),
                            VenueMid(venue="binance", mid=None, age_ms=None, fresh=False, reason="stale")]),
        IVSurfaceSnapshot(venue="mdi", symbol="BTC", ts_recv=T0 + 9, ts_bucket=T0, expiry_ns=expiry, forward=D("67500.5"),
                          atm_iv=D("0.55"), smile=[SmilePoint(strike=D("70000"), option_type="C", mark_iv=D("81.9"),
                                                              bid_iv=None, ask_iv=D("86.14"), delta=D("0.69"))],
                          rejected=[RejectCount(reason="wide", count=3)], quality="Degraded", reason="few quotes"),
    ]


AWKWARD = ["1.0000000000001", "NaN", "-sNaN7", "Infinity", "1E+40", "-0", "1.5E+3", "12345678901234567890123456.1",
           "0E-20", "67000", "-1E-12"]


def awkward_bbos() -> list[EventBase]:
    return [BBO(venue="kraken", symbol="BTC-USD", ts_recv=T0 + i, bid_px=D(text), bid_sz=D("1"), ask_px=D("2.5"),
                ask_sz=D(AWKWARD[-1 - i])) for i, text in enumerate(AWKWARD)]


def numbered(events: list[EventBase], first: int = 1) -> list[EventBase]:
    for i, event in enumerate(events):
        stamp_seq(event, first + i)
    return events


def statuses(details: list[str]) -> list[EventBase]:
    return [ConnectionStatus(venue="kraken", symbol=f"s{i},", ts_recv=T0 + i, state="stale", detail=detail)
            for i, detail in enumerate(details)]


def awkward_texts() -> list[EventBase]:
    """Strings that need a JSON escape (quotes, newlines, backslashes, tabs): never read as CSV."""
    return statuses(['say "hi"', "[x]\n[y]", "back\\slash", "]\n[", "tab\there", "a,b"])


def tricky_texts() -> list[EventBase]:
    """Strings CSV must read exactly as they are: commas, brackets, "null", empty, non-ASCII."""
    return statuses(["a,b", "[x]", "] [", "null", "", "ünïcode ✓", "NaN", "1E+3"])


FLAT = (BBO, Trade, VolIndex, MarkPrice, ConnectionStatus, SequenceGap)


@pytest.mark.parametrize("events", [every_kind(), awkward_bbos(), awkward_texts(), tricky_texts()],
                         ids=["every-kind", "decimals", "escaped-texts", "tricky-texts"])
def test_text_rows_give_the_same_table_and_issues_as_column_conversion(events: list[EventBase]) -> None:
    for kind in {type(e) for e in events}:
        rows = numbered([e for e in events if type(e) is kind])
        schema = stream_schema(kind, Scales())
        if kind not in FLAT:
            assert schema.rows is None, kind  # nested columns: column by column only
            continue
        assert schema.rows is not None, kind
        fast, fast_issues = schema.from_rows(schema.encode_rows(rows))
        slow, slow_issues = schema.build(rows)
        assert fast.equals(slow), (kind, fast.to_pylist(), slow.to_pylist())
        assert (fast_issues.rounded, fast_issues.nulled, fast_issues.by_row) == (slow_issues.rounded, slow_issues.nulled, slow_issues.by_row)


def test_clean_text_rows_are_read_by_arrow_and_awkward_ones_decoded_back_exactly() -> None:
    for kind, clean in ((BBO, every_kind()[:1]), (ConnectionStatus, tricky_texts())):
        codec = stream_schema(kind, Scales()).rows
        assert codec is not None and codec.read(codec.encode(numbered(clean))) is not None  # the fast way itself
    for kind, rows in ((BBO, awkward_bbos()), (ConnectionStatus, awkward_texts())):
        codec = stream_schema(kind, Scales()).rows
        assert codec is not None
        text = codec.encode(rows)
        assert codec.read(text) is None  # NaN / an escaped string: Arrow is not trusted with them
        # Decimal('-0') comes back as 0 (the same decimal128 value); NaNs compare by their text.
        assert [str(e) for e in codec.decode(text)] == [str(e).replace("Decimal('-0')", "Decimal('0')") for e in rows]


@pytest.mark.anyio
async def test_the_sink_keeps_every_row_exact_across_conversion_slices_and_parse_groups(tmp_path: Path) -> None:
    n = PARSE_ROWS * 2 + CONVERT_ROWS + 17  # full groups, a partial group and a partial slice
    events: list[EventBase] = []
    for i in range(n):
        if i % 3:
            events.append(BBO(venue="kraken", symbol="BTC-USD", ts_recv=T0 + i, bid_px=D(f"67000.{i % 10}"),
                              bid_sz=D(f"0.{i:08d}"), ask_px=D("67000.5"), ask_sz=D(f"{i}E-8")))
        else:
            events.append(Trade(venue="kraken", symbol="BTC-USD", ts_recv=T0 + i, trade_id=str(i), price=D(f"67000.{i % 7}"),
                                size=D(f"{i}E-8"), side="buy"))
    numbered(events)
    sink = ParquetSink(ParquetSinkConfig(root=str(tmp_path), buffer_rows=PARSE_ROWS + 100, flush_interval=3600))
    stats = SinkStats(name="parquet", delivery="durable")
    await sink.open(SinkContext(name="parquet", stats=stats, log=logging.getLogger("test.bench.parquet")))
    channel: BatchChannel[EventBase] = BatchChannel("sink:parquet", 1_000_000)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sink.run, channel)
        for start in range(0, n, 1000):
            await channel.put(events[start : start + 1000])
        channel.close()
    assert stats.counters["rows"] == n and stats.counters["files"] >= 3 and stats.queue_depth == 0
    for kind, stream, columns in ((BBO, "bbo", ("bid_px", "bid_sz", "ask_sz")), (Trade, "trade", ("price", "size"))):
        table = pq.read_table(sorted((tmp_path / "v1" / stream).rglob("*.parquet"))).sort_by("seq")
        want = [e for e in events if type(e) is kind]
        assert table.column("seq").to_pylist() == [e.seq for e in want]
        for column in columns:
            assert table.column(column).to_pylist() == [getattr(e, column) for e in want], column
        assert table.column("exact_text").null_count == len(want)


# ----- mdi_kraken -------------------------------------------------------------------------------
def kraken_session() -> tuple[KrakenSession, VenueStats]:
    stats = VenueStats(name="kraken")

    async def emit(batch: list[EventBase]) -> None:
        raise AssertionError("sessions do not emit")

    ctx = ConnectorContext(name="kraken", stats=stats, emit=emit, transport=get_transport("picows"),
                           log=logging.getLogger("test.bench.kraken"), clock=lambda: T0)
    return KrakenSession(KrakenConnector(KrakenConfig()), ctx), stats


@pytest.mark.parametrize("name", ["ticker_snapshot_btcusd.json", "ticker_update_btcusd_timestamp_integers.json",
                                  "trade_snapshot_btcusd.json", "trade_update_btcusd.json",
                                  "trade_update_btcusd_after_gap.json"])
def test_one_pass_data_frames_equal_the_envelope_path(name: str) -> None:
    data = (KRAKEN_FRAMES / name).read_bytes().strip()
    fast, slow = kraken_session()[0], kraken_session()[0]
    fast_out: list[EventBase] = []
    slow_out: list[EventBase] = []
    assert fast.on_frame(data, T0, fast_out) == slow._on_other_frame(data, T0, slow_out) is True
    assert fast_out == slow_out and fast_out


def test_exchange_latency_is_one_sample_per_channel_per_burst() -> None:
    session, stats = kraken_session()
    ticker = (KRAKEN_FRAMES / "ticker_update_btcusd_timestamp_integers.json").read_bytes()
    trade = (KRAKEN_FRAMES / "trade_update_btcusd.json").read_bytes()
    out: list[EventBase] = []
    for frame in (ticker, ticker, trade, ticker):  # one burst: every frame has the same receive time
        session.on_frame(frame, T0 + 10**9, out)
    assert stats.exchange_latency.n == 2
    session.on_frame(ticker, T0 + 2 * 10**9, out)  # the next burst
    assert stats.exchange_latency.n == 3
    assert [type(e) for e in out].count(BBO) == 4


# ----- transports ---------------------------------------------------------------------------------
async def burst_then_close(conn: ServerConnection) -> None:
    """300 frames in one socket write, then a close with code 4001."""
    async with conn.send_context():
        for i in range(300):
            conn.protocol.send_text(f"frame-{i}".encode())
    await conn.close(4001, "bye")


async def burst_then_wait(conn: ServerConnection) -> None:
    async with conn.send_context():
        for i in range(300):
            conn.protocol.send_text(f"frame-{i}".encode())
    await conn.wait_closed()


@asynccontextmanager
async def serving(handler: Callable[[ServerConnection], Awaitable[None]]) -> AsyncIterator[str]:
    """A real websockets server on 127.0.0.1 running ``handler``; yields its URL."""
    server = await serve(handler, "127.0.0.1", 0, compression=None)
    try:
        yield f"ws://127.0.0.1:{next(iter(server.sockets)).getsockname()[1]}/"
    finally:
        server.close()


def text(frame: str | bytes) -> str:
    return frame.decode() if isinstance(frame, bytes) else frame


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["httpx-ws", "picows"])
async def test_a_burst_then_a_close_gives_every_frame_in_order_then_the_close(name: str) -> None:
    got: list[str] = []
    async with serving(burst_then_close) as url, get_transport(name).connect(url, open_timeout=5) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            with anyio.fail_after(10):
                while True:
                    got.extend(map(text, await ws.recv_batch()))
    assert got == [f"frame-{i}" for i in range(300)]
    assert closed.value.code == 4001


@pytest.mark.anyio
async def test_picows_take_buffered_returns_the_burst_without_waiting_then_nothing() -> None:
    async with serving(burst_then_wait) as url, get_transport("picows").connect(url, open_timeout=5) as ws:
        with anyio.fail_after(10):
            while ws.buffered_frames < 300:  # type: ignore[attr-defined]
                await anyio.sleep(0.01)
        first = ws.take_buffered(max_frames=100)
        rest = ws.take_buffered()
        assert [text(f) for f in first + rest] == [f"frame-{i}" for i in range(300)]
        assert ws.take_buffered() == []


@pytest.mark.anyio
async def test_httpx_ws_take_buffered_is_always_empty() -> None:
    async with serving(burst_then_wait) as url, get_transport("httpx-ws").connect(url, open_timeout=5) as ws:
        first = await ws.recv_batch()
        assert ws.take_buffered() == [] and text(first[0]) == "frame-0"
