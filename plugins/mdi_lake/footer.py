"""A data file's footer: row count, ``mdi.*`` metadata and Arrow schema, without reading data."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from mdi_lake.catalog import DataFile
from mdi_lake.lakefs import Lake
from mdi_parquet.layout import META_PREFIX

READ_ERRORS = (OSError, pa.ArrowException)


@dataclass(frozen=True)
class Footer:
    rows: int
    meta: dict[str, str]  # the ``mdi.*`` keys, prefix removed
    schema: pa.Schema  # the Arrow schema the file stores (``ARROW:schema``)

    def int_meta(self, key: str) -> int | None:
        raw = self.meta.get(key)
        try:
            return int(raw) if raw is not None else None
        except ValueError:
            return None


def read_footer(lake: Lake, file: DataFile) -> Footer:
    """The footer, or an exception from ``READ_ERRORS`` for a file that is not valid Parquet."""
    with lake.fs.open_input_file(lake.path(file.rel)) as handle:
        parquet = pq.ParquetFile(handle)
        raw = parquet.metadata.metadata or {}
        meta = {k.decode()[len(META_PREFIX) :]: v.decode() for k, v in raw.items() if k.decode().startswith(META_PREFIX)}
        return Footer(rows=parquet.metadata.num_rows, meta=meta, schema=parquet.schema_arrow)


def read_table(lake: Lake, file: DataFile, columns: list[str] | None = None) -> pa.Table:
    """The file's rows (all of them decoded, which is what proves it readable)."""
    with lake.fs.open_input_file(lake.path(file.rel)) as handle:
        return pq.read_table(handle, columns=columns)
