"""Parquet write options for a compacted file: the same encodings the sink chose.

Built-in streams take them from their :class:`~mdi_parquet.schema.StreamSchema` (they depend on
column names only, not on scales); any other stream gets the sink's rules applied to the file's
own schema (dictionary for low-cardinality strings, delta for ``seq`` and top-level timestamps).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pyarrow as pa

from mdi_parquet.schema import LOW_CARDINALITY, Scales, StreamSchema, builtin_schemas


INSTANCE = "instance"


@cache
def _builtins() -> dict[str, StreamSchema]:
    return builtin_schemas(Scales())


def write_options(stream: str, schema: pa.Schema) -> dict[str, Any]:
    known = _builtins().get(stream)
    names = set(schema.names)
    if known is not None and set(known.arrow.names) <= names:
        options = known.write_options()
        extra = [n for n in (INSTANCE,) if n in names]  # the writer's instance column: dictionary too
        return {
            "use_dictionary": [*options["use_dictionary"], *extra],
            "write_statistics": [*options["write_statistics"], *extra],
            "column_encoding": options["column_encoding"],
        }
    dictionary = [f.name for f in schema if (pa.types.is_string(f.type) or pa.types.is_dictionary(f.type)) and (f.name in LOW_CARDINALITY or f.name == INSTANCE)]
    ordered = [f.name for f in schema if f.name == "seq" or pa.types.is_timestamp(f.type)]
    return {
        "use_dictionary": dictionary,
        "write_statistics": ordered + dictionary,
        "column_encoding": {name: "DELTA_BINARY_PACKED" for name in ordered},
    }
