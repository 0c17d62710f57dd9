"""Shared helpers for the Parquet sink tests: realistic events of every kind, a running sink,
and readers that turn what is on disk back into plain Python values for exact comparison."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import anyio
import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from mdi.channel import BatchChannel
from mdi.components import SinkContext
from mdi.events import (
    BBO,
    ConnectionStatus,
    EventBase,
    Greeks,
    IVSurfaceSnapshot,
    MarkPrice,
    Rejected,
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
from mdi.stats import SinkStats
from mdi_parquet.config import ParquetSinkConfig
from mdi_parquet.sink import ParquetSink

D = Decimal
HOUR_NS = 3_600 * 10**9
INSTANCE = "t1"  # [service] instance of every sink these helpers open
# 2024-05-27T12:59:59.5Z: half a second before an hour boundary, so flushes straddle two hours.
T0 = 1_716_814_799_500_000_000


def every_kind(t0: int = T0) -> list[EventBase]:
    """One or more realistic events of every kind in mdi.events (values as venues send them)."""
    expiry = 1_719_561_600_000_000_000
    return [
        BBO(venue="kraken", symbol="BTC-USD", ts_recv=t0, ts_exchange=t0 - 3_000_000,
            bid_px=D("67123.4"), bid_sz=D("0.10000000"), ask_px=D("67123.5"), ask_sz=D("1.23456789")),
        Trade(venue="coinbase", symbol="BTC-USD", ts_recv=t0 + 1, ts_exchange=t0 - 1_000,
              trade_id="22381691", price=D("67120.01"), size=D("0.00012345"), side="sell"),
        OptionTicker(venue="deribit", symbol="BTC-28JUN24-70000-C", ts_recv=t0 + 2, ts_exchange=t0 - 7_000_000,
                     expiry_ns=expiry, strike=D("70000"), option_type="C", underlying_price=D("33420.42"),
                     underlying_index="BTC-28JUN24", index_price=D("32201.67"), mark_price=D("0.3037669"),
                     mark_iv=D("81.9"), bid_iv=D("71.66"), ask_iv=D("86.14"), best_bid_price=D("0.274"),
                     best_bid_amount=D("8.0"), best_ask_price=D("0.316"), best_ask_amount=D("8.0"),
                     open_interest=D("108.2"),
                     greeks=Greeks(delta=D("0.69025"), gamma=D("0.00002"), vega=D("96.6411"),
                                   theta=D("-16.12758"), rho=D("86.83581"))),
        OptionTicker(venue="deribit", symbol="BTC-28JUN24-20000-P", ts_recv=t0 + 3, expiry_ns=expiry,
                     strike=D("20000"), option_type="P"),
        VolIndex(venue="deribit", symbol="BTC-DVOL", ts_recv=t0 + 4, ts_exchange=t0, index_name="btc_usd",
                 value=D("45.67")),
        MarkPrice(venue="binance", symbol="BTC-USDT-PERP", ts_recv=t0 + 5, ts_exchange=t0,
                  mark_price=D("58940.14924532"), index_price=D("58857.26693664"),
                  est_settle_price=D("58905.14663658"), funding_rate=D("0.00058455"),
                  next_funding_ns=1_617_321_600_000_000_000),
        ConnectionStatus(venue="kraken", symbol="", ts_recv=t0 + 6, state="disconnected",
                         detail="stale: no data for 30 s", attempt=3),
        SequenceGap(venue="coinbase", symbol="BTC-USD", ts_recv=t0 + 7, channel="market_trades",
                    expected=1852, received=1855),
        Rejected(venue="coinbase", symbol="BTC-USD", ts_recv=t0 + 7, reason="non_finite", field="price",
                 value="NaN", raw='{"channel":"market_trades","events":[{"trades":[{"price":"NaN"}]}]}'),
        SpotMid(venue="mdi", symbol="BTC-USD", ts_recv=t0 + 8, ts_bucket=t0 - 500_000_000, mid=D("67121.75"),
                quality="Ok", venues_used=["kraken", "coinbase"],
                venue_mids=[VenueMid(venue="kraken", mid=D("67123.45"), age_ms=120, fresh=True),
                            VenueMid(venue="binance", mid=None, age_ms=None, fresh=False, reason="stale")],
                divergence_bps=D("0.49")),
        IVSurfaceSnapshot(venue="mdi", symbol="BTC", ts_recv=t0 + 9, ts_bucket=t0 - 500_000_000,
                          expiry_ns=expiry, forward=D("67400.5"), atm_iv=D("52.3"), lower_strike=D("67000"),
                          lower_iv=D("52.9"), upper_strike=D("68000"), upper_iv=D("51.8"),
                          smile=[SmilePoint(strike=D("67000"), option_type="C", mark_iv=D("52.9"), bid_iv=D("51.1"),
                                            ask_iv=D("54.2"), delta=D("0.55")),
                                 SmilePoint(strike=D("68000"), option_type="P", mark_iv=D("51.8"), bid_iv=None,
                                            ask_iv=None, delta=None)],
                          dvol=D("45.67"), quotes_seen=40, quotes_used=31,
                          rejected=[RejectCount(reason="wide_spread", count=9)], widest_spread_used=D("0.0125"),
                          bracket_width=D("1000"), quality="Degraded", reason="one side thin"),
    ]


def trades(n: int, first_seq: int = 1, t0: int = T0, step_ns: int = 1_000_000) -> list[EventBase]:
    """``n`` trades with seq stamped from ``first_seq`` and distinct exact prices and sizes."""
    out: list[EventBase] = []
    for i in range(n):
        event = Trade(venue=("kraken", "coinbase", "binance")[i % 3], symbol="BTC-USD", ts_recv=t0 + i * step_ns,
                      ts_exchange=t0 + i * step_ns - 250_000, trade_id=str(10**12 + i),
                      price=D(67_000) + D(i) / 10, size=D(i + 1) / D(10**8), side=("buy", "sell")[i % 2])
        stamp_seq(event, first_seq + i)
        out.append(event)
    return out


def stamped(events: list[EventBase], first_seq: int = 1) -> list[EventBase]:
    for i, event in enumerate(events):
        stamp_seq(event, first_seq + i)
    return events


def plain(value: Any) -> Any:
    """Event field value -> what pyarrow's to_pylist gives back (Structs become dicts)."""
    if isinstance(value, msgspec.Struct):
        return {name: plain(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows with top-level timestamps as int ns (to_pylist would cut them to microseconds)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.int64()))
    return table.to_pylist()


def read_stream(root: Path, stream: str) -> pa.Table:
    """Every file of a stream, ordered by seq (pyarrow dataset with hive partitions)."""
    table = pq.read_table(root / "v1" / stream, partitioning="hive")
    return table.sort_by("seq")


def data_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet"))


def tmp_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.tmp"))


def file_meta(path: Path) -> dict[str, str]:
    meta = pq.read_metadata(path).metadata or {}
    return {k.decode(): v.decode() for k, v in meta.items() if k.startswith(b"mdi.")}


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until true; fail the test after ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.01)


@dataclass
class Running:
    sink: ParquetSink
    stats: SinkStats
    channel: BatchChannel[EventBase]
    watermark: int | None


def config(root: Path | str, **overrides: Any) -> ParquetSinkConfig:
    return msgspec.convert({"root": str(root), **overrides}, ParquetSinkConfig)


async def open_sink(root: Path | str, instance: str = INSTANCE, **overrides: Any) -> tuple[ParquetSink, SinkStats, int | None]:
    sink = ParquetSink(config(root, **overrides))
    stats = SinkStats(name="parquet", delivery="durable")
    ctx = SinkContext(name="parquet", stats=stats, log=logging.getLogger("mdi.sink.parquet"), instance=instance)
    watermark = await sink.open(ctx)
    return sink, stats, watermark


@asynccontextmanager
async def running_sink(root: Path, capacity: int = 100_000, **overrides: Any) -> AsyncIterator[Running]:
    """Open a sink and run it in a task group; leaving the block closes the channel and waits
    until the sink has flushed and returned (a clean stop)."""
    sink, stats, watermark = await open_sink(root, **overrides)
    channel: BatchChannel[EventBase] = BatchChannel("sink:parquet", capacity)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sink.run, channel)
        try:
            yield Running(sink=sink, stats=stats, channel=channel, watermark=watermark)
        finally:
            channel.close()


async def record(root: Path, events: list[EventBase], batch: int = 100, **overrides: Any) -> SinkStats:
    """One clean session that writes ``events`` (already stamped) and stops."""
    async with running_sink(root, **overrides) as run:
        for i in range(0, len(events), batch):
            await run.channel.put(events[i : i + batch])
    return run.stats
