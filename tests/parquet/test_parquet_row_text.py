"""The text rows' decimals are JSON strings (cheaper to write than JSON numbers): the tables they
give must be the ones the old number rows gave, value for value, refusals included, and equal to
the column-by-column conversion (which is what the files hold when Arrow refuses a value)."""

from __future__ import annotations

from decimal import Decimal as D

import msgspec
import pytest
from msgspec.structs import astuple

from mdi.events import BBO, EventBase, MarkPrice, Trade, stamp_seq
from mdi_parquet.config import Scales
from mdi_parquet.schema import stream_schema

T0 = 1_750_000_000_000_000_000
NUMBER = msgspec.json.Encoder(decimal_format="number")  # what the rows were written with before

FINITE = ["67123.4", "0.10000000", "1E-8", "1E+5", "-0", "-0.0", "0", "1.10", "123456789012345678901234.5678",
          "99999999999999999999999999.1", "1.5E+3", "0E-20", "-1E-12"]
# Finite, but more fractional digits than the scale (12) or more than 38 digits: Arrow refuses them
ROUNDED = ["5E-13", "0.0000000000001", "1234567890123456789012345678.123456789012", "1E+40", "67123.4"]
NON_FINITE = ["NaN", "-NaN", "sNaN", "Infinity", "-Infinity"]


def _trades(values: list[str]) -> list[EventBase]:
    events: list[EventBase] = [
        Trade(venue="kraken", symbol="BTC-USD", ts_recv=T0 + i, ts_exchange=None if i % 2 else T0 - i, trade_id=str(i),
              price=D(text), size=D(values[-1 - i]), side="buy")
        for i, text in enumerate(values)
    ]
    for i, event in enumerate(events):
        stamp_seq(event, i + 1)
    return events


def _bbos_and_marks(values: list[str]) -> list[EventBase]:
    events: list[EventBase] = []
    for i, text in enumerate(values):
        events.append(BBO(venue="coinbase", symbol="BTC-USD", ts_recv=T0 + i, bid_px=D(text), bid_sz=D("1"),
                          ask_px=D("2.5"), ask_sz=D(values[-1 - i])))
        events.append(MarkPrice(venue="binance", symbol="BTC-USDT-PERP", ts_recv=T0 + i, mark_price=D(text),
                                funding_rate=None if i % 3 else D(values[i // 2]), next_funding_ns=T0 if i % 2 else None))
    for i, event in enumerate(events):
        stamp_seq(event, i + 1)
    return events


@pytest.mark.parametrize("values", [FINITE, ROUNDED, FINITE + NON_FINITE, NON_FINITE + ["1"]],
                         ids=["finite", "rounded", "mixed", "non-finite"])
@pytest.mark.parametrize("make", [_trades, _bbos_and_marks], ids=["trade", "bbo+mark"])
def test_string_decimal_rows_give_the_tables_of_number_rows_and_of_column_conversion(values: list[str], make) -> None:  # type: ignore[no-untyped-def]
    events = make(values)
    for kind in {type(e) for e in events}:
        mine = [e for e in events if type(e) is kind]
        schema = stream_schema(kind, Scales())
        codec = schema.rows
        assert codec is not None
        text = codec.encode(mine)
        assert text.split(b"\n")[0].endswith(b",%d]" % mine[0].seq)  # integers (here seq) stay JSON numbers
        fast, fast_issues = schema.from_rows(text)
        slow, slow_issues = schema.build(mine)
        assert fast.equals(slow), (kind, fast.to_pylist(), slow.to_pylist())
        assert (fast_issues.rounded, fast_issues.nulled, fast_issues.by_row) == (
            slow_issues.rounded, slow_issues.nulled, slow_issues.by_row)
        # Decimal('-0') may come back as 0 (the same decimal128 value); NaNs compare by their text.
        assert _texts(codec.decode(text)) == _texts(mine)
        new_table = codec.read(text)
        if values is FINITE:
            old_table = codec.read(NUMBER.encode_lines(list(map(astuple, mine))))
            assert new_table is not None and old_table is not None  # the fast way, both ways
            assert new_table.equals(old_table)
        elif values is ROUNDED:
            assert new_table is None and codec.read(NUMBER.encode_lines(list(map(astuple, mine)))) is None
        else:
            assert new_table is None  # a non-finite value: never trusted to Arrow


def test_non_finite_rows_decode_back_to_the_same_values() -> None:
    events = _trades(FINITE[:3] + NON_FINITE)
    codec = stream_schema(Trade, Scales()).rows
    assert codec is not None
    assert _texts(codec.decode(codec.encode(events))) == _texts(events)


def _texts(events: list[EventBase]) -> list[str]:
    return [str(e).replace("Decimal('-0')", "Decimal('0')") for e in events]
