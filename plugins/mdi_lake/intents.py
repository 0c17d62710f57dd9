"""Compaction's intent files: ``_compact/<partition>.intent.json`` names a partition's inputs and
outputs while a compaction of it is unfinished (written before anything visible changes,
removed last). Recovery and readers (:func:`mdi_lake.query.superseded`) go by them."""

from __future__ import annotations

import msgspec

from mdi_lake.catalog import STAGING, Catalog
from mdi_lake.lakefs import Lake

INTENT_SUFFIX = ".intent.json"


class Output(msgspec.Struct, frozen=True):
    name: str
    rows: int


class Intent(msgspec.Struct, frozen=True, kw_only=True):
    format: int = 1
    partition: str
    mode: str  # "exchange" or "replace"
    inputs: list[str]  # names of the files being merged away
    outputs: list[Output]


def intent_rel(partition: str) -> str:
    return f"{STAGING}/{partition}{INTENT_SUFFIX}"


def read_intent(lake: Lake, partition: str) -> Intent:
    return msgspec.json.decode(lake.read_bytes(intent_rel(partition)), type=Intent)


def partition_of(rel: str) -> str:
    """The partition an intent file (path relative to the root) is about."""
    return rel[len(STAGING) + 1 : -len(INTENT_SUFFIX)]


def pending_intents(lake: Lake, catalog: Catalog) -> list[Intent]:
    found = []
    for rel in catalog.staging:
        if rel.endswith(INTENT_SUFFIX):
            try:
                found.append(read_intent(lake, partition_of(rel)))
            except (OSError, msgspec.DecodeError):
                continue  # finished (removed) meanwhile, or half-written on a store without renames
    return found
