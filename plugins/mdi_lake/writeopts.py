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


@cache
def _builtins() -> dict[str, StreamSchema]:
    return builtin_schemas(Scales())


def write_options(stream: str, schema: pa.Schema) -> dict[str, Any]:
    known = _builtins().get(stream)
    if known is not None and known.arrow.names == schema.names:
        return known.write_options()
    dictionary = [f.name for f in schema if pa.types.is_string(f.type) and f.name in LOW_CARDINALITY]
    ordered = [f.name for f in schema if f.name == "seq" or pa.types.is_timestamp(f.type)]
    return {
        "use_dictionary": dictionary,
        "write_statistics": ordered + dictionary,
        "column_encoding": {name: "DELTA_BINARY_PACKED" for name in ordered},
    }
