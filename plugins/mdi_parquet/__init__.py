"""Parquet sink for mdi: the durable, cold copy of every event, one stream per event kind.

Layout: ``<root>/v<schema_version>/<stream>/date=YYYY-MM-DD/hour=HH/part-<first>-<last>.parquet``.
See ``docs/schema.md`` for the columns of every stream, the decimal policy and the file rules.
"""
