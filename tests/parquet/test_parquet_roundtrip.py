"""Every event kind goes through the real sink into real files and comes back exactly,
read with pyarrow and with DuckDB."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import duckdb
import msgspec
import pyarrow.parquet as pq
import pytest
from parquet_support import (
    HOUR_NS,
    T0,
    data_files,
    every_kind,
    file_meta,
    plain,
    read_stream,
    record,
    rows,
    stamped,
    tmp_files,
    trades,
)

import mdi
from mdi.events import KIND_OF, KINDS, EventBase
from mdi_parquet.columns import EXACT_TEXT
from mdi_parquet.index import read_index
from mdi_parquet.store import LocalStore

LAYOUT = re.compile(r"^v1/(?P<stream>[a-z_0-9]+)/date=(\d{4}-\d\d-\d\d)/hour=(\d\d)/part-t1-(\d+)-(\d+)\.parquet$")


@pytest.mark.anyio
async def test_every_kind_round_trips_exactly_through_pyarrow(tmp_path: Path) -> None:
    events = stamped(every_kind())
    stats = await record(tmp_path, events)

    by_stream: dict[str, list[EventBase]] = {}
    for event in events:
        by_stream.setdefault(KIND_OF[type(event)], []).append(event)
    assert set(by_stream) == set(KINDS)
    for stream, expected in by_stream.items():
        got = rows(read_stream(tmp_path, stream))
        assert [r["seq"] for r in got] == [e.seq for e in expected]
        for row, event in zip(got, expected):
            for name in event.__struct_fields__:
                assert row[name] == plain(getattr(event, name)), (stream, name)
            assert row[EXACT_TEXT] is None  # every value fitted scale 12 exactly
    assert stats.counters["rows"] == len(events)
    assert stats.counters["decimal_rounded"] == 0
    assert stats.state == "ok"


@pytest.mark.anyio
async def test_decimals_are_exact_parquet_decimals_and_timestamps_ns_utc(tmp_path: Path) -> None:
    events = stamped(every_kind())
    await record(tmp_path, events)
    table = read_stream(tmp_path, "option_ticker")
    assert str(table.schema.field("mark_price").type) == "decimal128(38, 12)"
    assert str(table.schema.field("greeks").type.field("gamma").type) == "decimal128(38, 12)"
    assert str(table.schema.field("ts_recv").type) == "timestamp[ns, tz=UTC]"
    assert str(table.schema.field("expiry_ns").type) == "timestamp[ns, tz=UTC]"
    first = rows(table)[0]
    assert first["mark_price"] == Decimal("0.3037669") and str(first["mark_price"]) == "0.303766900000"
    assert first["greeks"]["gamma"] == Decimal("0.00002")
    smile = read_stream(tmp_path, "iv_surface_snapshot").schema.field("smile").type
    assert str(smile).startswith("list<element: struct<strike: decimal128(38, 12)")


@pytest.mark.anyio
async def test_layout_partitions_metadata_and_no_tmp_after_clean_stop(tmp_path: Path) -> None:
    # 3000 trades 1 ms apart from half a second before an hour boundary: one flush, two hours.
    events = trades(3000)
    stats = await record(tmp_path, events, batch=500)

    files = data_files(tmp_path)
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "v1/trade/date=2024-05-27/hour=12/part-t1-1-500.parquet",
        "v1/trade/date=2024-05-27/hour=13/part-t1-501-3000.parquet",
    ]
    for path in files:
        assert LAYOUT.match(path.relative_to(tmp_path).as_posix())
        meta = file_meta(path)
        table = pq.read_table(path)
        seqs = table.column("seq").to_pylist()
        ts = table.column("ts_recv").cast("int64").to_pylist()
        assert meta == {
            "mdi.schema_version": "1",
            "mdi.stream": "trade",
            "mdi.first_seq": str(min(seqs)),
            "mdi.last_seq": str(max(seqs)),
            "mdi.first_ts_recv": str(min(ts)),
            "mdi.last_ts_recv": str(max(ts)),
            "mdi.rows": str(len(seqs)),
            "mdi.writer_version": mdi.__version__,
            "mdi.instance": "t1",
        }
        assert table.column("instance").to_pylist() == ["t1"] * len(seqs)
        hour = int(path.parent.name.split("=")[1])
        assert all(t // HOUR_NS % 24 == hour for t in ts)
    assert int(file_meta(files[0])["mdi.last_ts_recv"]) < (T0 // HOUR_NS + 1) * HOUR_NS
    assert tmp_files(tmp_path) == []
    index = read_index(LocalStore(tmp_path), "v1", "t1")
    assert index is not None and index.pending_dirs == [] and index.watermark == 3000
    assert stats.counters["files"] == 2 and stats.counters["rows"] == 3000
    assert stats.counters["bytes"] == sum(f.stat().st_size for f in files)
    assert stats.gauges["watermark"] == 3000 and stats.queue_depth == 0
    assert stats.latency.n == 3000  # receive -> visible observed for every row


@pytest.mark.anyio
async def test_files_are_zstd_and_only_low_cardinality_strings_use_dictionaries(tmp_path: Path) -> None:
    await record(tmp_path, trades(1000))
    meta = pq.ParquetFile(data_files(tmp_path)[0]).metadata.row_group(0)
    columns = {meta.column(i).path_in_schema: meta.column(i) for i in range(meta.num_columns)}
    assert {c.compression for c in columns.values()} == {"ZSTD"}
    dictionary = {name for name, c in columns.items() if "RLE_DICTIONARY" in c.encodings}
    assert dictionary == {"venue", "symbol", "side", "instance", "source"}  # Literal fields are low-cardinality
    assert "RLE_DICTIONARY" not in columns["trade_id"].encodings
    assert "DELTA_BINARY_PACKED" in columns["seq"].encodings


@pytest.mark.anyio
async def test_duckdb_reads_the_lake_with_hive_partitions(tmp_path: Path) -> None:
    events = trades(3000)
    await record(tmp_path, events, batch=250)
    glob = f"{tmp_path}/v1/trade/**/*.parquet"
    con = duckdb.connect()
    count, distinct, low, high, total, hours = con.execute(
        "SELECT count(*), count(DISTINCT seq), min(seq), max(seq), sum(price * size), "
        "list(DISTINCT hour ORDER BY hour) FROM read_parquet(?, hive_partitioning = true)",
        [glob],
    ).fetchone()
    assert (count, distinct, low, high) == (3000, 3000, 1, 3000)
    assert total == sum(e.price * e.size for e in events)  # type: ignore[attr-defined]
    assert hours == [12, 13]
    price_type, ts_type, date = con.execute(
        "SELECT typeof(any_value(price)), typeof(any_value(ts_recv)), min(date)::VARCHAR FROM read_parquet(?, hive_partitioning = true)",
        [glob],
    ).fetchone()
    assert price_type == "DECIMAL(38,12)" and ts_type == "TIMESTAMPTZ_NS" and date == "2024-05-27"
    exact = con.execute(
        "SELECT price::VARCHAR, size::VARCHAR, epoch_ns(ts_recv) FROM read_parquet(?, hive_partitioning = true) "
        "WHERE seq = 2",
        [glob],
    ).fetchone()
    assert exact == ("67000.100000000000", "0.000000020000", events[1].ts_recv)


@pytest.mark.anyio
async def test_duckdb_reads_nested_lists_of_structs(tmp_path: Path) -> None:
    await record(tmp_path, stamped(every_kind()))
    con = duckdb.connect()
    strikes, reasons, mids = con.execute(
        "SELECT [p.strike::VARCHAR for p in smile], [r.reason for r in rejected], "
        "(SELECT list(venue_mids) FROM read_parquet(?)) "
        "FROM read_parquet(?)",
        [f"{tmp_path}/v1/spot_mid_1s/**/*.parquet", f"{tmp_path}/v1/iv_surface_snapshot/**/*.parquet"],
    ).fetchone()
    assert strikes == ["67000.000000000000", "68000.000000000000"]
    assert reasons == ["wide_spread"]
    assert mids[0][1] == {"venue": "binance", "mid": None, "age_ms": None, "fresh": False, "reason": "stale"}


def test_events_module_kinds_are_what_the_docs_promise() -> None:
    # The test data above must cover every kind; a new kind in mdi.events fails here first.
    assert {KIND_OF[type(e)] for e in every_kind()} == set(KINDS)
    assert msgspec.json.encode(every_kind())  # all of them are valid, encodable events
