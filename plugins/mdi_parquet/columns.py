"""Python values -> Arrow arrays, one column at a time, without ever losing a value silently.

Each column has a converter. The fast path is one ``pa.array(values, type)`` call per column
(C code; for ``Decimal`` it raises rather than rounds). Only when that call refuses the column
does the slow path look at values one by one:

- a ``Decimal`` with more fractional digits than the column's scale is rounded half-even to the
  scale (so SQL on the column still works);
- a value that cannot be stored at all (a decimal beyond 38 digits, NaN, a value of the wrong
  type from a buggy producer) is stored as null.

Either way the original text goes to the row's ``exact_text`` map (column path -> text) and is
counted, so the lake stays lossless and the sink never crashes on one bad event.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from operator import attrgetter
from typing import Any, Callable, Protocol, Sequence

import msgspec
import pyarrow as pa

OnIssue = Callable[[int, str, str, bool], None]
"""``(index, path suffix, original text, rounded)``: a value was rounded (True) or nulled."""

EXACT_TEXT = "exact_text"
EXACT_TEXT_TYPE = pa.map_(pa.string(), pa.string())
MAX_PRECISION = 38
# Enough digits that quantize never fails for anything that could fit decimal128 at any scale.
_CONTEXT = Context(prec=MAX_PRECISION * 3, rounding=ROUND_HALF_EVEN)
_CONVERT_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError)
_ITEM_INDEX = re.compile(r"\[\d+\]")


class Converter(Protocol):
    arrow_type: pa.DataType

    def convert(self, values: list[Any], on_issue: OnIssue) -> pa.Array:
        """One Arrow array for ``values`` (``None`` is null); report what was not exact."""


class PlainConverter:
    """Ints, strings, bools, floats, timestamps (ints of ns): Arrow converts them exactly."""

    def __init__(self, arrow_type: pa.DataType) -> None:
        self.arrow_type = arrow_type

    def convert(self, values: list[Any], on_issue: OnIssue) -> pa.Array:
        try:
            return pa.array(values, self.arrow_type)
        except _CONVERT_ERRORS:
            return pa.array([self._one(i, v, on_issue) for i, v in enumerate(values)], self.arrow_type)

    def _one(self, index: int, value: Any, on_issue: OnIssue) -> Any:
        try:
            pa.array([value], self.arrow_type)
        except _CONVERT_ERRORS:
            on_issue(index, "", str(value), False)
            return None
        return value


class JsonConverter(PlainConverter):
    """Fallback for field types Parquet has no natural column for: the value as JSON text."""

    _encoder = msgspec.json.Encoder(decimal_format="string")

    def __init__(self) -> None:
        super().__init__(pa.string())

    def convert(self, values: list[Any], on_issue: OnIssue) -> pa.Array:
        encode = self._encoder.encode
        return super().convert([None if v is None else encode(v).decode() for v in values], on_issue)


class DecimalConverter:
    """``Decimal`` -> ``decimal128(38, scale)``: exact, else rounded half-even and reported."""

    def __init__(self, scale: int) -> None:
        self.scale = scale
        self.arrow_type = pa.decimal128(MAX_PRECISION, scale)
        self._quantum = Decimal(1).scaleb(-scale)
        self._limit = Decimal(10) ** (MAX_PRECISION - scale)

    def convert(self, values: list[Any], on_issue: OnIssue) -> pa.Array:
        try:
            return pa.array(values, self.arrow_type)
        except _CONVERT_ERRORS:
            return pa.array([self._one(i, v, on_issue) for i, v in enumerate(values)], self.arrow_type)

    def _one(self, index: int, value: Any, on_issue: OnIssue) -> Decimal | None:
        if value is None:
            return None
        number = self._as_decimal(value)
        text = decimal_text(value) if isinstance(value, Decimal) else str(value)
        if number is None:
            on_issue(index, "", text, False)
            return None
        try:
            stored = number.quantize(self._quantum, context=_CONTEXT)
        except InvalidOperation:
            stored = None
        if stored is None or abs(stored) >= self._limit:
            on_issue(index, "", text, False)
            return None
        if stored != number:
            on_issue(index, "", text, True)
        return stored

    @staticmethod
    def _as_decimal(value: Any) -> Decimal | None:
        """A finite Decimal for ``value``; ints are exact, anything else is taken from its text."""
        if isinstance(value, bool):
            return None
        if isinstance(value, (Decimal, int)):
            number = Decimal(value)
        else:
            try:
                number = Decimal(str(value))
            except InvalidOperation:
                return None
        return number if number.is_finite() else None


# Beyond this many digits of exponent, positional notation would be a huge string (1E+999999999
# is a gigabyte of zeros): such values keep their scientific text, which is just as exact.
_POSITIONAL_EXPONENT_LIMIT = 60


def decimal_text(value: Decimal) -> str:
    """The exact text kept for a value not stored exactly: positional (``0.0000000000001``)
    where that is short, scientific (``1E+400``, ``NaN``) otherwise."""
    if value.is_finite() and abs(value.adjusted()) <= _POSITIONAL_EXPONENT_LIMIT:
        return format(value, "f")
    return str(value)


class StructConverter:
    """A nested msgspec Struct (or None) -> Arrow struct, each field through its own converter."""

    def __init__(self, fields: Sequence[tuple[str, Converter]]) -> None:
        self.fields = [(name, attrgetter(name), conv) for name, conv in fields]
        self.arrow_type = pa.struct([pa.field(name, conv.arrow_type) for name, conv in fields])

    def convert(self, values: list[Any], on_issue: OnIssue) -> pa.Array:
        nulls = [v is None for v in values]
        has_null = any(nulls)
        children = []
        for name, get, conv in self.fields:
            if has_null:
                column = [None if v is None else get(v) for v in values]
            else:
                column = list(map(get, values))
            children.append(conv.convert(column, _prefixed(on_issue, "." + name)))
        mask = pa.array(nulls, pa.bool_()) if has_null else None
        return pa.StructArray.from_arrays(children, fields=list(self.arrow_type), mask=mask)


class ListConverter:
    """A list field (or None) -> Arrow list; item problems are reported as ``[i]`` paths."""

    def __init__(self, item: Converter) -> None:
        self.item = item
        self.arrow_type = pa.list_(item.arrow_type)

    def convert(self, values: list[Any], on_issue: OnIssue) -> pa.Array:
        offsets = [0]
        flat: list[Any] = []
        nulls = []
        for value in values:
            nulls.append(value is None)
            if value is not None:
                flat.extend(value)
            offsets.append(len(flat))
        child = self.item.convert(flat, _located(on_issue, offsets))
        mask = pa.array(nulls, pa.bool_()) if any(nulls) else None
        return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), child, type=self.arrow_type, mask=mask)


def _prefixed(on_issue: OnIssue, prefix: str) -> OnIssue:
    def report(index: int, suffix: str, text: str, rounded: bool) -> None:
        on_issue(index, prefix + suffix, text, rounded)

    return report


def _located(on_issue: OnIssue, offsets: list[int]) -> OnIssue:
    """Translate an index into the flattened items back to (row, item) for the parent."""

    def report(index: int, suffix: str, text: str, rounded: bool) -> None:
        row = bisect_right(offsets, index) - 1
        on_issue(row, f"[{index - offsets[row]}]{suffix}", text, rounded)

    return report


class Issues:
    """What one table build could not store exactly: per row for ``exact_text``, per column counts."""

    def __init__(self) -> None:
        self.by_row: dict[int, list[tuple[str, str]]] = {}
        self.rounded: Counter[str] = Counter()
        self.nulled: Counter[str] = Counter()
        self.examples: dict[str, str] = {}

    def reporter(self, column: str, first_row: int = 0) -> OnIssue:
        """The callback for one top-level column of a chunk starting at row ``first_row``."""

        def report(index: int, suffix: str, text: str, rounded: bool) -> None:
            self.add(first_row + index, column + suffix, text, rounded)

        return report

    def add(self, row: int, path: str, text: str, rounded: bool) -> None:
        self.by_row.setdefault(row, []).append((path, text))
        column = _ITEM_INDEX.sub("", path)
        (self.rounded if rounded else self.nulled)[column] += 1
        self.examples.setdefault(column, text)

    def column(self, rows: int) -> pa.Array:
        """The ``exact_text`` column: null for rows whose every value was stored exactly."""
        if not self.by_row:
            return pa.nulls(rows, EXACT_TEXT_TYPE)
        get = self.by_row.get
        return pa.array([get(i) for i in range(rows)], EXACT_TEXT_TYPE)

    def merge(self, other: Issues) -> None:
        """Add another build's counts (the per-row part belongs to its own table)."""
        self.rounded.update(other.rounded)
        self.nulled.update(other.nulled)
        for column, text in other.examples.items():
            self.examples.setdefault(column, text)
