"""``mdi lake``: tools that keep a Parquet lake healthy and show what it holds.

Commands (``mdi lake stats|verify|compact|prune|query|report``) work through ``pyarrow.fs``, so a
local directory and an object-storage URI (``s3://bucket/prefix``) are handled alike; only the
atomic swap of compaction needs a local filesystem (see :mod:`mdi_lake.compact`).
"""
