"""No value can crash the durable sink or cost other rows (issue #11, point 2).

Values the connectors now refuse are handed to the Parquet sink directly, as a buggy producer
(a third-party connector or pipeline) would: NaN, signalling NaN, +/-Infinity and exponents no
DECIMAL(38, s) holds. Each such value is quarantined in its row (the column null, the exact text
in ``exact_text``, counted in ``values_nulled``); every other row and value is written; the sink
stays ``ok`` and goes on writing later flushes. Read back with pyarrow and DuckDB.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import anyio
import duckdb
import pyarrow.dataset as ds
import pytest

from mdi.channel import BatchChannel
from mdi.components import SinkContext
from mdi.events import BBO, EventBase, Trade, stamp_seq
from mdi.stats import SinkStats
from mdi_parquet.config import ParquetSinkConfig
from mdi_parquet.sink import ParquetSink

pytestmark = pytest.mark.anyio

T0 = 1_796_000_000_000_000_000
BAD = ["NaN", "sNaN", "-NaN", "Infinity", "-Infinity", "1E+400", "1E+999999999", "9" * 39, "-1E+39"]
TINY = "1E-400"  # storable only rounded (to 0 at scale 12): rounded, its exact text kept


def trade(i: int, price: str, size: str = "0.5") -> Trade:
    event = Trade(venue="test", symbol="BTC-USD", ts_recv=T0 + i * 1000, trade_id=str(i), price=Decimal(price), size=Decimal(size))
    stamp_seq(event, i + 1)
    return event


async def run_sink(root: Path, batches: list[list[EventBase]]) -> SinkStats:
    sink = ParquetSink(ParquetSinkConfig(root=str(root), flush_interval=0.05))
    stats = SinkStats(name="parquet", delivery="durable")
    await sink.open(SinkContext(name="parquet", stats=stats, log=logging.getLogger("test.quarantine")))
    channel: BatchChannel[EventBase] = BatchChannel("sink:parquet", 10_000)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sink.run, channel)
        for batch in batches:
            await channel.put(batch)
            with anyio.fail_after(30):  # each batch becomes a file: later flushes still work
                while stats.counters["rows"] < sum(map(len, batches[: batches.index(batch) + 1])):
                    await anyio.sleep(0.01)
        assert stats.state == "ok"
        channel.close()
    return stats


async def test_unencodable_decimals_are_quarantined_and_every_other_row_written(tmp_path: Path) -> None:
    good_before = [trade(i, f"97000.{i:02d}") for i in range(5)]
    mixed = [trade(5 + i, bad) if i % 2 == 0 else trade(5 + i, "97001.5", bad) for i, bad in enumerate(BAD)]
    mixed.append(trade(50, "97001.6", TINY))
    good_after = [trade(100 + i, f"97002.{i:02d}") for i in range(5)]
    stats = await run_sink(tmp_path, [good_before, mixed + good_after[:2], good_after[2:]])

    expected = good_before + mixed + good_after
    assert stats.counters["rows"] == len(expected)
    assert stats.counters["values_nulled"] == len(BAD)
    assert stats.counters["decimal_rounded"] == 1
    table = ds.dataset(tmp_path / "v1" / "trade", format="parquet", partitioning="hive").to_table()
    rows = {r["seq"]: r for r in table.to_pylist()}
    assert sorted(rows) == sorted(e.seq for e in expected)
    for event in expected:
        row = rows[event.seq]
        for column in ("price", "size"):
            value: Decimal = getattr(event, column)
            if str(value) == TINY:
                assert row[column] == 0 and dict(row["exact_text"])[column] == TINY
            elif value.is_finite() and str(value) not in BAD:
                assert row[column] == value and (row["exact_text"] is None or column not in dict(row["exact_text"]))
            else:  # quarantined in place: null in the column, exact text kept beside it
                assert row[column] is None
                kept = dict(row["exact_text"])[column]
                assert kept == str(value) or Decimal(kept) == value  # the very value, exactly
                assert len(kept) <= 64  # short however large the exponent
    nulled = duckdb.connect().execute(
        f"SELECT count(*) FROM read_parquet('{tmp_path}/v1/trade/**/*.parquet', hive_partitioning=true) "
        "WHERE price IS NULL OR size IS NULL"
    ).fetchone()
    assert nulled == (len(BAD),)


async def test_a_bad_value_in_one_stream_costs_no_row_of_another(tmp_path: Path) -> None:
    bbo = BBO(venue="test", symbol="BTC-USD", ts_recv=T0, bid_px=Decimal("97000"), bid_sz=Decimal("1"),
              ask_px=Decimal("97000.5"), ask_sz=Decimal("2"))
    stamp_seq(bbo, 1)
    stats = await run_sink(tmp_path, [[bbo, trade(1, "NaN")]])
    assert stats.counters["rows"] == 2 and stats.counters["values_nulled"] == 1
    got = duckdb.connect().execute(
        f"SELECT bid_px, ask_sz FROM read_parquet('{tmp_path}/v1/bbo/**/*.parquet', hive_partitioning=true)"
    ).fetchall()
    assert got == [(Decimal("97000"), Decimal("2"))]
