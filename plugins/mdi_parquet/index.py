"""The lake's watermark, found at start-up without reading the whole lake.

``<root>/v<N>/_watermark.json`` is rewritten atomically *before* every commit: it names, per
stream, the file holding that stream's highest sequence number (``heads``) and every partition
directory the commit is about to write into (``pending_dirs``). Any ``.tmp`` a crash can leave
and any file newer than the heads is therefore in a listed directory, so recovery reads a handful
of footers: the heads and the newest file of each pending directory. The footers' metadata, not
the index, has the last word. Without a usable index (first start of an old lake, a deleted
head file) recovery falls back to a full scan, which also works from file names plus one footer
per stream, and the index is rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from mdi_parquet.layout import INDEX_NAME, META_PREFIX, TMP_SUFFIX, parse_part, partition_dirs, stream_of
from mdi_parquet.storage import remove_tmp_files, write_bytes_atomic

INDEX_FORMAT = 1
LAST_SEQ_KEY = f"{META_PREFIX}last_seq".encode()


class Head(msgspec.Struct, frozen=True, kw_only=True):
    file: str  # relative to the version directory
    last_seq: int


class LakeIndex(msgspec.Struct, frozen=True, kw_only=True):
    format: int = INDEX_FORMAT
    schema_version: int
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


def write_index(vdir: Path, index: LakeIndex) -> None:
    write_bytes_atomic(vdir / INDEX_NAME, _encoder.encode(index))


def read_index(vdir: Path) -> LakeIndex | None:
    """The index, or None when it is missing, unreadable or of another format."""
    try:
        index = _decoder.decode((vdir / INDEX_NAME).read_bytes())
    except (OSError, msgspec.DecodeError):
        return None
    return index if index.format == INDEX_FORMAT else None


def last_seq_of(path: Path) -> int | None:
    """``mdi.last_seq`` from a file's footer; None if the file is unreadable or foreign."""
    try:
        meta = pq.read_metadata(path).metadata or {}
    except (OSError, pa.ArrowException):
        return None
    raw = meta.get(LAST_SEQ_KEY)
    return int(raw) if raw else None


def recover(vdir: Path, *, clean: bool = True) -> Recovery:
    """Remove crash leftovers (when ``clean``) and find the highest persisted sequence number."""
    index = read_index(vdir)
    cleaned = _remove_index_tmp(vdir) if clean else 0
    heads = _verified_heads(vdir, index)
    full_scan = heads is None
    if heads is None:
        heads, dirs = {}, partition_dirs(vdir) if vdir.is_dir() else []
    else:
        dirs = [vdir / d for d in index.pending_dirs] if index else []
    if clean:
        cleaned += sum(remove_tmp_files(d) for d in dirs)
    footers = len(heads)
    for stream, (named_last, rel) in _newest_by_name(vdir, dirs).items():
        last = last_seq_of(vdir / rel)
        footers += 1
        if last is None:  # unreadable footer: trust the name, which the writer derived from it
            last = named_last
        if stream not in heads or last > heads[stream].last_seq:
            heads[stream] = Head(file=rel, last_seq=last)
    watermark = max((h.last_seq for h in heads.values()), default=None)
    return Recovery(watermark=watermark, heads=heads, tmp_cleaned=cleaned, full_scan=full_scan, footers_read=footers)


def _verified_heads(vdir: Path, index: LakeIndex | None) -> dict[str, Head] | None:
    """The index's heads re-read from their footers; None if any is missing or unreadable."""
    if index is None:
        return None
    heads: dict[str, Head] = {}
    for stream, head in index.heads.items():
        last = last_seq_of(vdir / head.file)
        if last is None:
            return None
        heads[stream] = Head(file=head.file, last_seq=last)
    return heads


def _newest_by_name(vdir: Path, dirs: list[Path]) -> dict[str, tuple[int, str]]:
    """Per stream, (last seq, path relative to ``vdir``) of the file named with the highest one."""
    best: dict[str, tuple[int, str]] = {}
    for directory in dirs:
        if not directory.is_dir():
            continue
        rel_dir = directory.relative_to(vdir).as_posix()
        stream = stream_of(rel_dir)
        for entry in directory.iterdir():
            seqs = parse_part(entry.name)
            if seqs is not None and (stream not in best or seqs[1] > best[stream][0]):
                best[stream] = (seqs[1], f"{rel_dir}/{entry.name}")
    return best


def _remove_index_tmp(vdir: Path) -> int:
    tmp = vdir / (INDEX_NAME + TMP_SUFFIX)
    if tmp.is_file():
        tmp.unlink()
        return 1
    return 0
