"""``mdi lake query``: DuckDB over the lake, every stream registered as a view.

Each stream of the newest schema version is a ``pyarrow.dataset`` over the files the catalog
listed (never ``.tmp`` files, never ``_compact/``), with the Hive ``date`` and ``hour`` columns,
read through the lake's ``pyarrow.fs`` filesystem: local and ``s3://`` lakes alike, without a
DuckDB extension. DuckDB is an optional extra (``pip install 'md-ingest[lake]'``).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from mdi_lake.catalog import Catalog, scan
from mdi_lake.intents import pending_intents
from mdi_lake.lakefs import Lake, LakeError
from mdi_lake.lock import lake_lock


def duckdb_module() -> Any:
    try:
        import duckdb
    except ImportError:
        raise LakeError("`mdi lake query` needs DuckDB: pip install 'md-ingest[lake]' (or: pip install duckdb)") from None
    return duckdb


def connect(lake: Lake, catalog: Catalog) -> tuple[Any, list[str]]:
    """A DuckDB connection with one view per stream; and the view names."""
    duckdb = duckdb_module()
    con = duckdb.connect()
    names: list[str] = []
    for stream, (version, files) in sorted(_newest_version_files(lake, catalog).items()):
        dataset = ds.dataset(
            [lake.path(rel) for rel in files],
            filesystem=lake.fs,
            format="parquet",
            partitioning=ds.partitioning(pa.schema([("date", pa.string()), ("hour", pa.int32())]), flavor="hive"),
            partition_base_dir=lake.path(f"v{version}/{stream}"),
        )
        con.register(f"_ds_{stream}", dataset)
        con.execute(f'CREATE VIEW "{stream}" AS SELECT * FROM "_ds_{stream}"')
        names.append(stream)
    return con, names


def _newest_version_files(lake: Lake, catalog: Catalog) -> dict[str, tuple[int, list[str]]]:
    best: dict[str, tuple[int, list[str]]] = {}
    hidden = superseded(lake, catalog)
    for f in catalog.files:
        if f.rel in hidden:
            continue
        version, files = best.get(f.stream, (f.version, []))
        if f.version > version:
            best[f.stream] = (f.version, [f.rel])
        elif f.version == version:
            files.append(f.rel)
            best[f.stream] = (version, files)
    return best


def run(lake: Lake, sql: str) -> pa.Table:
    """Run ``sql``; the lake is listed and read under the shared lock (see :mod:`mdi_lake.lock`)."""
    duckdb = duckdb_module()
    with lake_lock(lake, exclusive=False):
        con, _ = connect(lake, scan(lake))
        return _fetch(duckdb, con, sql)


def _fetch(duckdb: Any, con: Any, sql: str) -> pa.Table:
    try:
        relation = con.sql(sql)
        if relation is None:  # a statement without a result (CREATE, SET ...)
            return pa.table({})
        fetch = getattr(relation, "to_arrow_table", None) or relation.arrow  # DuckDB 2 / 1
        table: pa.Table = fetch()
        return table
    except duckdb.Error as exc:
        raise LakeError(f"query failed: {exc}") from None


def superseded(lake: Lake, catalog: Catalog) -> set[str]:
    """Files an unfinished replace-mode compaction makes redundant: its inputs once all its
    outputs are visible, else its outputs. So a query never counts a row twice meanwhile."""
    present = {f.rel for f in catalog.files}
    hidden: set[str] = set()
    for intent in pending_intents(lake, catalog):
        outputs = {f"{intent.partition}/{o.name}" for o in intent.outputs}
        inputs = {f"{intent.partition}/{name}" for name in intent.inputs}
        hidden |= inputs if outputs <= present else outputs
    return hidden
