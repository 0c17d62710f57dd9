"""Arrow schemas of the lake, derived from the event Structs so that code and files cannot drift.

One stream per event kind (the ``kind`` tag). Columns: the shared event fields first (``seq``,
``ts_recv``, ``ts_exchange``, ``venue``, ``symbol``), then the kind's own fields in declaration
order, then ``exact_text``. Types follow the field types:

- ``Decimal`` -> ``decimal128(38, scale)``; scale from config (``decimal_scale``, overridable per
  ``<stream>.<column path>`` in ``column_scales``);
- ``int`` named ``ts_*`` or ``*_ns`` -> ``timestamp[ns, tz=UTC]``; other ``int`` -> ``int64``;
- ``str`` and ``Literal`` -> ``string``; ``bool`` -> ``bool``; ``float`` -> ``double``;
- nested Struct -> ``struct``; ``list[...]`` -> ``list<...>`` (so ``list<struct<...>>``);
- anything else -> ``string`` holding the value as JSON (a third-party event still records).

Bump :data:`SCHEMA_VERSION` (a new ``v<N>`` directory) whenever a column changes meaning or type.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter
from typing import Any, Mapping, Sequence

import msgspec
import msgspec.inspect as mi
import pyarrow as pa
import pyarrow.json as pa_json

from mdi.events import EVENT_TYPES, KIND_OF, EventBase
from mdi_parquet.columns import (
    EXACT_TEXT,
    EXACT_TEXT_TYPE,
    Converter,
    DecimalConverter,
    Issues,
    JsonConverter,
    ListConverter,
    PlainConverter,
    StructConverter,
)

SCHEMA_VERSION = 1
CHUNK_ROWS = 8192
TIMESTAMP = pa.timestamp("ns", tz="UTC")
BASE_COLUMNS: tuple[str, ...] = ("seq", "ts_recv", "ts_exchange", "venue", "symbol")
# Free-text strings that still take few distinct values; every Literal field is low-cardinality too.
# Ids (trade_id) and free text (detail, reason) are deliberately absent: a dictionary would only
# grow until Parquet falls back to plain encoding, after wasting the work.
LOW_CARDINALITY = frozenset({"venue", "symbol", "underlying_index", "index_name", "channel"})


def is_timestamp(name: str) -> bool:
    """Integer fields holding ns since the epoch, by the events' naming convention."""
    return name.startswith("ts_") or name.endswith("_ns")


@dataclass(frozen=True)
class Scales:
    """Decimal scale per column: ``overrides`` keyed ``<stream>.<column path>``, else ``default``."""

    default: int = 12
    overrides: Mapping[str, int] = field(default_factory=dict)

    def of(self, stream: str, path: str) -> int:
        return self.overrides.get(f"{stream}.{path}", self.default)


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    converter: Converter
    dictionary: bool  # low-cardinality string: Parquet dictionary encoding
    ordered: bool  # seq and top-level timestamps: delta encoding, min/max statistics


# Decimals as JSON numbers with their exact digits: msgspec formats those twice as fast as
# strings, and Arrow's JSON reader parses a number into a decimal column from its text, exactly.
_JSON_LINES = msgspec.json.Encoder(decimal_format="number")
# What msgspec writes for a non-finite Decimal (NaN, sNaN, -NaN5, Infinity...): not JSON, so the
# fallback quotes such bare tokens (never text inside a string) before decoding the line.
_NON_FINITE = re.compile(r'"(?:\\.|[^"\\])*"|(-?s?NaN\d*|-?Infinity)')


def _quote_non_finite(match: re.Match[str]) -> str:
    token = match.group(1)
    return match.group(0) if token is None else f'"{token}"'


def decode_lines(data: bytes, event_type: type[EventBase]) -> list[EventBase]:
    """The events :meth:`StreamSchema.encode_lines` wrote, exactly (decimals from their text)."""
    events = []
    for line in data.decode().splitlines():
        obj = json.loads(_NON_FINITE.sub(_quote_non_finite, line), parse_float=Decimal)
        events.append(msgspec.convert(obj, event_type))
    return events


@dataclass(frozen=True)
class StreamSchema:
    """The columns of one stream, and the two ways to build its Arrow tables.

    :meth:`build` converts events column by column from Python objects. :meth:`encode_lines`
    plus :meth:`from_json` is the fast way for every stream whose columns Arrow's JSON reader can
    produce exactly (``json`` is not None): msgspec writes each event once as a JSON line (in C;
    decimals as numbers with their exact digits), and Arrow parses the text into the columns
    (C++, without the GIL, so in a worker thread it runs beside the event loop). When Arrow
    refuses a value (more fractional digits than the column's scale, a number beyond 38 digits,
    NaN) the text is decoded back into the same events, exactly (:func:`decode_lines`), and goes
    through :meth:`build`, which rounds or nulls it and keeps the original in ``exact_text``:
    both ways give identical files.
    """

    stream: str
    event_type: type[EventBase]
    columns: tuple[ColumnSpec, ...]
    arrow: pa.Schema
    json: pa.Schema | None = None  # what Arrow's JSON reader produces; None: build() only

    def write_options(self) -> dict[str, Any]:
        """Keyword arguments for ``pq.write_table`` (encodings and statistics per column)."""
        dictionary = [c.name for c in self.columns if c.dictionary]
        ordered = [c.name for c in self.columns if c.ordered]
        return {
            "use_dictionary": dictionary,
            "write_statistics": ordered + dictionary,
            "column_encoding": {name: "DELTA_BINARY_PACKED" for name in ordered},
        }

    def build(self, events: Sequence[EventBase], chunk_rows: int = CHUNK_ROWS) -> tuple[pa.Table, Issues]:
        """The Arrow table of ``events`` (row order kept) and what could not be stored exactly.

        Column at a time (one attribute pass and one ``pa.array`` call per column is the cheapest
        way from Python objects to Arrow), over chunks of rows small enough to stay in the CPU
        cache while every column of the chunk is converted: ~20% faster than whole columns of
        100k rows (``bench/bench_parquet.py``).
        """
        issues = Issues()
        chunks: list[list[pa.Array]] = [[] for _ in self.columns]
        for start in range(0, len(events), chunk_rows):
            part = events[start : start + chunk_rows]
            for column, arrays in zip(self.columns, chunks):
                values = list(map(attrgetter(column.name), part))
                arrays.append(column.converter.convert(values, issues.reporter(column.name, start)))
        data = [pa.chunked_array(arrays, c.converter.arrow_type) for c, arrays in zip(self.columns, chunks)]
        data.append(pa.chunked_array([issues.column(len(events))]))
        return pa.Table.from_arrays(data, schema=self.arrow), issues


    def encode_lines(self, events: Sequence[EventBase]) -> bytes:
        """``events`` as JSON lines for :meth:`from_json` (exact decimal digits, in C)."""
        return _JSON_LINES.encode_lines(events)

    def from_json(self, data: bytes) -> tuple[pa.Table, Issues]:
        """The table of JSON lines made by :meth:`encode_lines`; releases the GIL while parsing."""
        assert self.json is not None, f"stream {self.stream} has no JSON read schema"
        options = pa_json.ParseOptions(explicit_schema=self.json, unexpected_field_behavior="ignore")
        read = pa_json.ReadOptions(use_threads=False, block_size=max(1 << 20, len(data) + 1))
        try:
            table = pa_json.read_json(io.BytesIO(data), read_options=read, parse_options=options)
            columns = [table.column(f.name).cast(f.type) for f in self.arrow if f.name != EXACT_TEXT]
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a value needs build()'s care
            return self.build(decode_lines(data, self.event_type))
        columns.append(pa.chunked_array([pa.nulls(table.num_rows, EXACT_TEXT_TYPE)]))
        return pa.Table.from_arrays(columns, schema=self.arrow), Issues()


def json_read_schema(arrow: pa.Schema) -> pa.Schema | None:
    """The schema to give Arrow's JSON reader so that casting its columns gives ``arrow``
    exactly, or None when that is not guaranteed. Top-level timestamps are read as the integer
    nanoseconds the events hold; floats are refused (msgspec writes NaN as null), and so are
    nested timestamps and anything held as JSON text (no built-in event has either)."""
    fields = []
    for f in arrow:
        if f.name == EXACT_TEXT:
            continue
        if f.type == TIMESTAMP:
            fields.append(pa.field(f.name, pa.int64()))
        elif _json_exact(f.type):
            fields.append(f)
        else:
            return None
    return pa.schema(fields)


def _json_exact(type_: pa.DataType) -> bool:
    if pa.types.is_struct(type_):
        return all(_json_exact(child.type) for child in type_)
    if pa.types.is_list(type_):
        return _json_exact(type_.value_type)
    return pa.types.is_integer(type_) or pa.types.is_decimal(type_) or pa.types.is_boolean(type_) or pa.types.is_string(type_)


def stream_schema(event_type: type[EventBase], scales: Scales) -> StreamSchema:
    """The schema of the stream that holds ``event_type`` (its ``kind`` tag is the stream name)."""
    info = mi.type_info(event_type)
    assert isinstance(info, mi.StructType) and isinstance(info.tag, str)
    stream = info.tag
    types = {f.name: f.type for f in info.fields}
    names = [*BASE_COLUMNS, *(n for n in event_type.__struct_fields__ if n not in BASE_COLUMNS)]
    columns = tuple(_column(stream, name, types[name], scales) for name in names)
    fields = [pa.field(c.name, c.converter.arrow_type) for c in columns]
    arrow = pa.schema([*fields, pa.field(EXACT_TEXT, EXACT_TEXT_TYPE)])
    json = json_read_schema(arrow) if not any(isinstance(c.converter, JsonConverter) for c in columns) else None
    return StreamSchema(stream=stream, event_type=event_type, columns=columns, arrow=arrow, json=json)


def builtin_schemas(scales: Scales) -> dict[str, StreamSchema]:
    """Schemas of every kind in :mod:`mdi.events`, keyed by stream name."""
    return {KIND_OF[t]: stream_schema(t, scales) for t in EVENT_TYPES}


def decimal_columns(schema: StreamSchema) -> list[str]:
    """``<stream>.<path>`` of every decimal column, the valid keys of ``column_scales``."""
    return [f"{schema.stream}.{path}" for path, type_text in describe(schema.arrow) if type_text.startswith("decimal")]


def describe(schema: pa.Schema) -> list[tuple[str, str]]:
    """(column path, type) rows, as in the docs; nested fields get their own ``parent.child`` rows."""
    rows: list[tuple[str, str]] = []
    for field_ in schema:
        _describe(field_.name, field_.type, rows)
    return rows


def differences(lake: pa.Schema, configured: pa.Schema) -> list[str]:
    """Columns whose type in the lake's files differs from what this writer would write now."""
    have, want = dict(describe(lake)), dict(describe(configured))
    return [f"{path}: {have[path]} in the lake, {want[path]} now" for path in want if path in have and have[path] != want[path]]


def _describe(path: str, type_: pa.DataType, rows: list[tuple[str, str]]) -> None:
    if pa.types.is_struct(type_):
        rows.append((path, "struct"))
        for child in type_:
            _describe(f"{path}.{child.name}", child.type, rows)
    elif pa.types.is_list(type_) and pa.types.is_struct(type_.value_type):
        rows.append((path, "list<struct>"))
        for child in type_.value_type:
            _describe(f"{path}.{child.name}", child.type, rows)
    elif pa.types.is_list(type_):
        rows.append((path, f"list<{type_.value_type}>"))
    elif pa.types.is_map(type_):  # not str(): Parquet renames the entries field on the way back
        rows.append((path, f"map<{type_.key_type}, {type_.item_type}>"))
    else:
        rows.append((path, str(type_)))


def _column(stream: str, name: str, type_: mi.Type, scales: Scales) -> ColumnSpec:
    inner = _without_none(type_)
    converter = _converter(inner, stream, name, scales)
    is_string = isinstance(inner, (mi.StrType, mi.LiteralType)) and converter.arrow_type == pa.string()
    dictionary = is_string and (name in LOW_CARDINALITY or isinstance(inner, mi.LiteralType))
    ordered = name == "seq" or converter.arrow_type == TIMESTAMP
    return ColumnSpec(name=name, converter=converter, dictionary=dictionary, ordered=ordered)


def _without_none(type_: mi.Type) -> mi.Type:
    """``X | None`` -> ``X`` (every column is nullable); other unions stay as they are."""
    if isinstance(type_, mi.UnionType):
        rest = [t for t in type_.types if not isinstance(t, mi.NoneType)]
        if len(rest) == 1:
            return rest[0]
    return type_


def _converter(type_: mi.Type, stream: str, path: str, scales: Scales) -> Converter:
    type_ = _without_none(type_)
    leaf = path.rsplit(".", 1)[-1]
    if isinstance(type_, mi.DecimalType):
        return DecimalConverter(scales.of(stream, path))
    if isinstance(type_, mi.IntType):
        return PlainConverter(TIMESTAMP if is_timestamp(leaf) else pa.int64())
    simple = _SIMPLE.get(type(type_))
    if simple is not None:
        return PlainConverter(simple)
    if isinstance(type_, mi.LiteralType):
        if all(isinstance(v, str) for v in type_.values):
            return PlainConverter(pa.string())
        if all(isinstance(v, int) for v in type_.values):
            return PlainConverter(pa.int64())
    if isinstance(type_, (mi.ListType, mi.VarTupleType)):
        return ListConverter(_converter(type_.item_type, stream, path, scales))
    if isinstance(type_, mi.StructType):
        types = {f.name: f.type for f in type_.fields}
        order = type_.cls.__struct_fields__
        return StructConverter([(n, _converter(types[n], stream, f"{path}.{n}", scales)) for n in order])
    return JsonConverter()


_SIMPLE: dict[type, pa.DataType] = {mi.StrType: pa.string(), mi.BoolType: pa.bool_(), mi.FloatType: pa.float64()}
