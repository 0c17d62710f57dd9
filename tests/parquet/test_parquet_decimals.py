"""The decimal policy: exact when the value fits, else rounded half-even AND counted AND the exact
text kept; values that cannot be stored at all are null with their text kept. Nothing is lost."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parquet_support import T0, every_kind, open_sink, read_stream, record, rows, stamped, trades

from mdi.events import IVSurfaceSnapshot, SmilePoint, Trade
from mdi_parquet.columns import EXACT_TEXT, DecimalConverter, Issues, PlainConverter
from mdi_parquet.schema import Scales, stream_schema
from mdi_parquet.writer import SchemaMismatch

D = Decimal


def convert(values: list[object], scale: int = 12) -> tuple[list[object], Issues]:
    issues = Issues()
    array = DecimalConverter(scale).convert(values, issues.reporter("price"))
    return array.to_pylist(), issues


def test_fitting_values_are_exact_in_any_notation() -> None:
    values = [D("67123.4"), D("1.423E-4"), D("-16.12758"), D("8.0"), D("0E-8"), D("99999999999999999999999999"), None]
    got, issues = convert(values)
    assert got == values
    assert issues.by_row == {}


def test_too_many_digits_round_half_even_counted_and_kept_as_text() -> None:
    got, issues = convert([D("0.1234567890125"), D("0.1234567890135"), D("1.5"), D("-0.00000000000050")], scale=12)
    assert got == [D("0.123456789012"), D("0.123456789014"), D("1.5"), D("-0.000000000000")]
    assert issues.rounded == {"price": 3}
    assert issues.by_row == {
        0: [("price", "0.1234567890125")],
        1: [("price", "0.1234567890135")],
        3: [("price", "-0.00000000000050")],
    }


def test_unstorable_values_become_null_with_their_text() -> None:
    got, issues = convert([D("1E+30"), D("NaN"), D("1.5"), "garbage"], scale=12)
    assert got == [None, None, D("1.5"), None]
    assert issues.nulled == {"price": 3} and issues.rounded == {}
    assert issues.by_row[0] == [("price", "1000000000000000000000000000000")]
    assert issues.by_row[1] == [("price", "NaN")]
    assert issues.by_row[3] == [("price", "garbage")]


def test_a_wrong_python_type_in_an_int_column_is_nulled_not_fatal() -> None:
    issues = Issues()
    got = PlainConverter(pa.int64()).convert([1, "two", 3], issues.reporter("attempt")).to_pylist()
    assert got == [1, None, 3]
    assert issues.by_row == {1: [("attempt", "two")]} and issues.nulled == {"attempt": 1}


def test_nested_values_report_their_row_and_item_path() -> None:
    schema = stream_schema(IVSurfaceSnapshot, Scales(default=4))
    point = SmilePoint(strike=D("67000"), option_type="C", mark_iv=D("52.9"), bid_iv=None, ask_iv=None, delta=None)
    odd = SmilePoint(strike=D("68000"), option_type="P", mark_iv=D("51.123456"), bid_iv=None, ask_iv=None, delta=None)
    events = [
        IVSurfaceSnapshot(venue="mdi", symbol="BTC", ts_recv=T0, ts_bucket=T0, expiry_ns=T0, forward=None, atm_iv=None),
        IVSurfaceSnapshot(venue="mdi", symbol="BTC", ts_recv=T0, ts_bucket=T0, expiry_ns=T0, forward=None,
                          atm_iv=D("52.31234"), smile=[point, odd]),
    ]
    table, issues = schema.build(events)
    exact = table.column(EXACT_TEXT).to_pylist()
    assert exact[0] is None
    assert sorted(exact[1]) == [("atm_iv", "52.31234"), ("smile[1].mark_iv", "51.123456")]
    assert issues.rounded == {"atm_iv": 1, "smile.mark_iv": 1}
    assert table.column("smile").to_pylist()[1][1]["mark_iv"] == D("51.1235")


def test_column_scales_override_one_column_including_nested_paths() -> None:
    scales = Scales(default=12, overrides={"trade.size": 18, "iv_surface_snapshot.smile.strike": 2})
    assert str(stream_schema(Trade, scales).arrow.field("size").type) == "decimal128(38, 18)"
    assert str(stream_schema(Trade, scales).arrow.field("price").type) == "decimal128(38, 12)"
    smile = stream_schema(IVSurfaceSnapshot, scales).arrow.field("smile").type.value_type
    assert str(smile.field("strike").type) == "decimal128(38, 2)"
    assert str(smile.field("mark_iv").type) == "decimal128(38, 12)"


@pytest.mark.anyio
async def test_the_sink_counts_and_warns_about_rounding_naming_stream_and_column(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    events = stamped(every_kind() + [
        Trade(venue="kraken", symbol="BTC-USD", ts_recv=T0 + 20, trade_id="1", price=D("67000.1"),
              size=D("0.0000000000001")),
        Trade(venue="kraken", symbol="BTC-USD", ts_recv=T0 + 21, trade_id="2", price=D("67000.2"),
              size=D("0.0000000000002")),
    ])
    with caplog.at_level(logging.WARNING, logger="mdi.sink.parquet"):
        stats = await record(tmp_path, events)
    assert stats.counters["decimal_rounded"] == 2
    warnings = [r.getMessage() for r in caplog.records if "trade.size" in r.getMessage()]
    assert len(warnings) == 1  # rate-limited: one message for the column, with the count
    assert "2 value(s)" in warnings[0] and "scale 12" in warnings[0] and "column_scales['trade.size']" in warnings[0]
    got = rows(read_stream(tmp_path, "trade"))
    assert [r["size"] for r in got[-2:]] == [D(0), D(0)]
    assert [r[EXACT_TEXT] for r in got[-2:]] == [[("size", "0.0000000000001")], [("size", "0.0000000000002")]]


@pytest.mark.anyio
async def test_raising_the_scale_stores_the_same_values_exactly(tmp_path: Path) -> None:
    event = stamped([Trade(venue="kraken", symbol="BTC-USD", ts_recv=T0, trade_id="1", price=D("67000.1"),
                           size=D("0.0000000000001"))])
    stats = await record(tmp_path, event, column_scales={"trade.size": 18})
    assert stats.counters["decimal_rounded"] == 0
    table = read_stream(tmp_path, "trade")
    assert table.column("size").to_pylist() == [D("1E-13")]
    assert table.column(EXACT_TEXT).to_pylist() == [None]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.decimals(allow_nan=False, allow_infinity=False, places=12,
                            min_value=D("-1E25"), max_value=D("1E25")) | st.none(), max_size=30))
def test_any_value_within_scale_and_range_survives_a_parquet_file_exactly(values: list[Decimal | None]) -> None:
    buffer = pa.BufferOutputStream()
    got, issues = convert(values)
    pq.write_table(pa.table({"v": pa.array(got, pa.decimal128(38, 12))}), buffer, compression="zstd")
    back = pq.read_table(pa.BufferReader(buffer.getvalue())).column("v").to_pylist()
    assert back == values and issues.by_row == {}


@pytest.mark.anyio
async def test_changing_a_scale_on_an_existing_lake_is_refused_at_open(tmp_path: Path) -> None:
    await record(tmp_path, trades(10))
    with pytest.raises(SchemaMismatch, match=r"trade\.size: decimal128\(38, 12\) in the lake, decimal128\(38, 18\) now"):
        await open_sink(tmp_path, column_scales={"trade.size": 18})
    _, _, watermark = await open_sink(tmp_path)  # the configuration the lake was written with still opens
    assert watermark == 10


def test_rows_stay_aligned_across_build_chunks() -> None:
    events = [Trade(venue="kraken", symbol="BTC-USD", ts_recv=T0 + i, trade_id=str(i), price=D("67000.5"),
                    size=D("0.0000000000001") if i == 7 else D(i)) for i in range(10)]
    table, issues = stream_schema(Trade, Scales()).build(events, chunk_rows=3)
    assert table.column("trade_id").num_chunks == 4
    assert table.column("trade_id").to_pylist() == [str(i) for i in range(10)]
    assert [i for i, v in enumerate(table.column(EXACT_TEXT).to_pylist()) if v] == [7]
    assert issues.by_row == {7: [("size", "0.0000000000001")]}
