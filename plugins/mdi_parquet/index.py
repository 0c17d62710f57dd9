"""Each instance's watermark, found at start-up without reading the whole lake.

``<root>/v<N>/_watermark-<instance>.json`` is rewritten (atomically, by this instance only)
*before* every commit: it names, per stream, the file holding this instance's highest sequence
number in that stream (``heads``) and every partition directory the commit is about to write
into (``pending_dirs``). Any ``.tmp`` a crash can leave and any file newer than the heads is
therefore in a listed directory, so recovery reads a handful of footers: the heads and the newest
file of each pending directory. The footers' metadata, not the index, has the last word. Without
a usable index (first start, an old lake, a deleted head file) recovery falls back to a full scan
of this instance's file names plus one footer per stream, and the index is rewritten.

Instances never read or write each other's index: one shared index rewritten blindly by several
writers loses updates (18 of 60 in the probe in SCALEOUT.md). Files named before instances existed
(``part-<first>-<last>.parquet``) count for every instance, so upgrading never reuses a number.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from mdi_parquet.layout import META_PREFIX, index_name, is_partition_dir, parse_part, stream_of
from mdi_parquet.store import Store

INDEX_FORMAT = 1
LAST_SEQ_KEY = f"{META_PREFIX}last_seq".encode()


class Head(msgspec.Struct, frozen=True, kw_only=True):
    file: str  # relative to the version directory
    last_seq: int


class LakeIndex(msgspec.Struct, frozen=True, kw_only=True):
    format: int = INDEX_FORMAT
    schema_version: int
    instance: str = ""
    watermark: int | None = None
    heads: dict[str, Head] = {}
    pending_dirs: list[str] = []


@dataclass
class Recovery:
    watermark: int | None
    heads: dict[str, Head]
    tmp_cleaned: int
    full_scan: bool
    footers_read: int


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(LakeIndex)


def write_index(store: Store, vprefix: str, instance: str, index: LakeIndex) -> None:
    store.replace(f"{vprefix}/{index_name(instance)}", _encoder.encode(index))


def read_index(store: Store, vprefix: str, instance: str) -> LakeIndex | None:
    """The instance's index, or None when it is missing, unreadable or of another format."""
    raw = store.read(f"{vprefix}/{index_name(instance)}")
    if raw is None:
        return None
    try:
        index = _decoder.decode(raw)
    except msgspec.DecodeError:
        return None
    return index if index.format == INDEX_FORMAT else None


def last_seq_of(store: Store, key: str) -> int | None:
    """``mdi.last_seq`` from a file's footer; None if the file is unreadable or foreign."""
    meta = store.metadata(key)
    raw = (meta.metadata or {}).get(LAST_SEQ_KEY) if meta is not None else None
    return int(raw) if raw else None


def mine(instance: str, name: str) -> bool:
    """Is ``name`` a data file of ``instance`` (or of the pre-instance lake, which counts for all)?"""
    parsed = parse_part(name)
    return parsed is not None and parsed[0] in ("", instance)


def recover(store: Store, vprefix: str, instance: str, *, clean: bool = True) -> Recovery:
    """Remove this instance's crash leftovers (when ``clean``) and find its highest persisted seq."""
    index = read_index(store, vprefix, instance)
    own_index = index_name(instance)
    cleaned = store.remove_leftovers(vprefix, lambda name: name == own_index) if clean else 0
    heads = _verified_heads(store, vprefix, index)
    full_scan = heads is None
    if heads is None:
        heads, names = {}, _scan(store, vprefix)
    else:
        pending = index.pending_dirs if index else []
        names = {d: store.names(f"{vprefix}/{d}") for d in pending}
    if clean:
        cleaned += sum(store.remove_leftovers(f"{vprefix}/{d}", lambda n: mine(instance, n)) for d in names)
    footers = len(heads)
    for stream, (named_last, rel) in _newest_by_name(instance, names).items():
        last = last_seq_of(store, f"{vprefix}/{rel}")
        footers += 1
        if last is None:  # unreadable footer: trust the name, which the writer derived from it
            last = named_last
        if stream not in heads or last > heads[stream].last_seq:
            heads[stream] = Head(file=rel, last_seq=last)
    watermark = max((h.last_seq for h in heads.values()), default=None)
    return Recovery(watermark=watermark, heads=heads, tmp_cleaned=cleaned, full_scan=full_scan, footers_read=footers)


def _scan(store: Store, vprefix: str) -> dict[str, list[str]]:
    """Every partition directory's file names (one listing of the whole version directory)."""
    found: dict[str, list[str]] = {}
    cut = len(vprefix) + 1
    for key in store.files(vprefix):
        rel_dir, _, name = key[cut:].rpartition("/")
        if is_partition_dir(rel_dir):
            found.setdefault(rel_dir, []).append(name)
    return found


def _verified_heads(store: Store, vprefix: str, index: LakeIndex | None) -> dict[str, Head] | None:
    """The index's heads re-read from their footers; None if any is missing or unreadable."""
    if index is None:
        return None
    heads: dict[str, Head] = {}
    for stream, head in index.heads.items():
        last = last_seq_of(store, f"{vprefix}/{head.file}")
        if last is None:
            return None
        heads[stream] = Head(file=head.file, last_seq=last)
    return heads


def _newest_by_name(instance: str, names: dict[str, list[str]]) -> dict[str, tuple[int, str]]:
    """Per stream, (last seq, path relative to the version directory) of this instance's file
    named with the highest one."""
    best: dict[str, tuple[int, str]] = {}
    for rel_dir, entries in names.items():
        stream = stream_of(rel_dir)
        for name in entries:
            parsed = parse_part(name)
            if parsed is None or parsed[0] not in ("", instance):
                continue
            if stream not in best or parsed[2] > best[stream][0]:
                best[stream] = (parsed[2], f"{rel_dir}/{name}")
    return best
