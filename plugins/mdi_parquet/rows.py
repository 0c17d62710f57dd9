"""Events -> Arrow through text: the fast way for flat streams (BBO, trades, mark prices...).

Converting Python objects column by column (:meth:`mdi_parquet.schema.StreamSchema.build`) holds
the GIL for about 1.2 µs per BBO, most of it turning each ``Decimal`` into Arrow's decimal. This
way splits the work where the GIL allows:

- on the event loop, :meth:`RowCodec.encode`: each event's field values as one JSON array per
  line, written by msgspec in C (``Decimal`` as a JSON string of exactly its digits, ``str(d)``;
  strings JSON-quoted) -- about 0.25 µs per BBO;
- in the sink's writer thread, :meth:`RowCodec.read`: the lines become CSV (only the brackets
  at the line ends go) and Arrow's CSV reader parses every column, decimals from their text,
  without the GIL and on Arrow's threads -- about 0.2 µs per row of CPU, beside the loop.

Exactness: a decimal's JSON string and its CSV field agree digit for digit (Arrow unquotes the
field before converting it), and Arrow's decimal parser refuses
(never rounds) a value with more fractional digits than the column's scale, beyond 38 digits,
or not a number (a NaN Decimal is the string ``"NaN"``). JSON strings and CSV quoted strings
agree exactly when no string needed an escape (``\\``); lines with any backslash are not read as
CSV at all. Whatever Arrow refuses comes back as None, and the caller decodes the lines back
into the very same events (:meth:`RowCodec.decode`, exact) for the column-by-column conversion,
which rounds or nulls the value and keeps its text in ``exact_text``: both ways give identical
files.

Only flat streams qualify (integers, decimals, strings, booleans; no floats, lists or nested
structs): for those every value has one unambiguous CSV spelling.
"""

from __future__ import annotations

import json
from typing import Sequence

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from msgspec.structs import astuple

from mdi.events import EventBase
from mdi_parquet.columns import EXACT_TEXT, EXACT_TEXT_TYPE

# Decimals as JSON strings: the same digits as a JSON number (both are ``str(d)``), and msgspec's
# encoder is about 2.4x slower for a whole row in ``decimal_format="number"`` (even for the rows'
# strings and integers); Arrow's CSV reader unquotes the field before parsing the decimal, so the
# columns are the same. A non-finite Decimal is the string "NaN" / "Infinity", which Arrow refuses
# in a decimal column: that slice goes through the exact fallback (:meth:`RowCodec.decode`) like any
# other refused value.
_ENCODER = msgspec.json.Encoder(decimal_format="string")
_BLOCK = 1 << 19  # bytes per block of Arrow's CSV reader: blocks are parsed in parallel
_LINE_BREAK = b"]\n["  # between two lines; never inside a JSON string (a newline is escaped there)


def _as(column: pa.ChunkedArray, type_: pa.DataType) -> pa.ChunkedArray:
    """Only timestamps need a cast (int64 ns -> timestamp, zero-copy); every cast is a GIL hand-off."""
    return column if column.type == type_ else column.cast(type_)


def _csv_body(data: bytes) -> pa.Buffer:
    """``[a,b]\\n[c,d]\\n`` -> ``a,b\\nc,d``, by Arrow without the GIL (in the writer thread, a
    Python ``bytes.replace`` would hold the GIL against the event loop for a millisecond)."""
    offsets = pa.array([0, len(data)], pa.int64()).buffers()[1]
    whole = pa.LargeBinaryArray.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
    joined = pc.replace_substring(whole, _LINE_BREAK.decode(), "\n")
    length = len(data) - 2 * (data.count(b"\n") - 1)  # each break between lines lost two bytes
    return joined.buffers()[2].slice(1, length - 3)  # without the first "[" and the last "]\n"


def _flat(type_: pa.DataType) -> bool:
    return (
        pa.types.is_integer(type_) or pa.types.is_decimal(type_) or pa.types.is_string(type_)
        or pa.types.is_boolean(type_) or pa.types.is_timestamp(type_)
    )


class RowCodec:
    """Text rows of one flat stream (see module doc); build with :meth:`for_stream`."""

    def __init__(self, event_type: type[EventBase], arrow: pa.Schema) -> None:
        self.event_type = event_type
        self.arrow = arrow
        self.fields: tuple[str, ...] = event_type.__struct_fields__
        by_name = {f.name: f.type for f in arrow}
        # Timestamps are the integer ns the events hold: read as int64, cast (zero-copy) after.
        self.read_types = {name: pa.int64() if pa.types.is_timestamp(by_name[name]) else by_name[name] for name in self.fields}
        self._read = pa_csv.ReadOptions(column_names=list(self.fields), use_threads=False, block_size=_BLOCK)
        self._parse = pa_csv.ParseOptions(quote_char='"', double_quote=False, escape_char=False, newlines_in_values=False)
        self._convert = pa_csv.ConvertOptions(
            column_types=self.read_types, null_values=["null"], true_values=["true"], false_values=["false"],
            strings_can_be_null=True, quoted_strings_can_be_null=False,  # only a bare null is None
        )

    @classmethod
    def for_stream(cls, event_type: type[EventBase], arrow: pa.Schema) -> RowCodec | None:
        """A codec when every column of the stream is flat, else None."""
        columns = [f for f in arrow if f.name != EXACT_TEXT]
        if {f.name for f in columns} != set(event_type.__struct_fields__):
            return None
        return cls(event_type, arrow) if all(_flat(f.type) for f in columns) else None

    def encode(self, events: Sequence[EventBase]) -> bytes:
        """``[v1,v2,...]`` per event, one per line, fields in declaration order."""
        return _ENCODER.encode_lines(list(map(astuple, events)))

    def read(self, data: bytes) -> pa.Table | None:
        """The stream's table of :meth:`encode`'s lines, or None when Arrow cannot read them
        exactly (a string with an escape, a value the column cannot hold)."""
        if not data or b"\\" in data:
            return None
        try:
            table = pa_csv.read_csv(pa.BufferReader(_csv_body(data)), read_options=self._read,
                                    parse_options=self._parse, convert_options=self._convert)
            columns = [_as(table.column(f.name), f.type) for f in self.arrow if f.name != EXACT_TEXT]
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        columns.append(pa.chunked_array([pa.nulls(table.num_rows, EXACT_TEXT_TYPE)]))
        return pa.Table.from_arrays(columns, schema=self.arrow)

    def decode(self, data: bytes) -> list[EventBase]:
        """The events :meth:`encode` wrote, exactly (every decimal from its own text)."""
        events = []
        for line in data.decode().splitlines():
            values = json.loads(line)  # decimals are strings: msgspec.convert below reads them exactly
            events.append(msgspec.convert(dict(zip(self.fields, values)), self.event_type, strict=False))
        return events
