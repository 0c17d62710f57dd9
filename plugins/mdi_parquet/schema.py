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

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Mapping, Sequence

import msgspec.inspect as mi
import pyarrow as pa

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
from mdi_parquet.rows import RowCodec

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


@dataclass(frozen=True)
class StreamSchema:
    """The columns of one stream, and the ways to build its Arrow tables.

    :meth:`build` converts events column by column from Python objects: every stream, every
    value (rounding or nulling what a column cannot hold, with the original in ``exact_text``).
    Flat streams (``rows`` is not None) also have the fast way, :meth:`encode_rows` on the event
    loop plus :meth:`from_rows` in a worker thread (see :mod:`mdi_parquet.rows`); it falls back
    to :meth:`build` for any text Arrow refuses, so both give identical tables.
    """

    stream: str
    event_type: type[EventBase]
    columns: tuple[ColumnSpec, ...]
    arrow: pa.Schema
    rows: RowCodec | None = None  # the fast way (flat streams only); None: build() only

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


    def encode_rows(self, events: Sequence[EventBase]) -> bytes:
        """``events`` as text rows for :meth:`from_rows` (in C, exact; flat streams only)."""
        assert self.rows is not None, f"stream {self.stream} has no text rows"
        return self.rows.encode(events)

    def from_rows(self, data: bytes) -> tuple[pa.Table, Issues]:
        """The table of :meth:`encode_rows`' text (parsed without the GIL); values Arrow refuses
        send the rows through :meth:`build`, decoded back exactly."""
        assert self.rows is not None, f"stream {self.stream} has no text rows"
        table = self.rows.read(data)
        if table is None:
            return self.build(self.rows.decode(data))
        return table, Issues()


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
    rows = RowCodec.for_stream(event_type, arrow)
    return StreamSchema(stream=stream, event_type=event_type, columns=columns, arrow=arrow, rows=rows)


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
