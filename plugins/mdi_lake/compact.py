"""``mdi lake compact``: merge the small files of closed partitions, crash-safely.

Each partition is rewritten in a staging directory ``_compact/<partition>/`` (merged groups as
new files, files left alone as hard links), every merged file is read back and compared with
its inputs (exact values, row order) **before** anything visible changes, and an intent file
``_compact/<partition>.intent.json`` names the inputs and outputs. Then:

- **local disk** (``exchange``): the live partition directory and the staging directory are
  swapped in one ``renameat2(RENAME_EXCHANGE)``, so a reader listing the directory sees the old
  files or the new ones, never both and never neither. Any file that arrived in the old
  directory after planning is moved across, the old directory and the intent are removed.
- **object storage** (``replace``, also local filesystems without the exchange): the outputs are
  put next to the inputs (a PUT is atomic per object), then the inputs are deleted, then the
  intent. Between the first PUT and the last delete a listing sees both (rows twice).

A crash anywhere is repaired by the next run (:func:`recover`): without an intent the staging
directory is discarded (nothing visible had changed); with one, the swap or the PUTs are
finished if every output is in the partition, else undone. Nothing is lost or duplicated.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

import mdi
from mdi_lake.catalog import STAGING, DataFile, scan
from mdi_lake.footer import read_table
from mdi_lake.intents import INTENT_SUFFIX, Intent, Output, intent_rel, partition_of, read_intent
from mdi_lake.lakefs import Lake
from mdi_lake.lock import LOCK_NAME, lake_lock
from mdi_lake.plan import Group, PartitionPlan, plan
from mdi_lake.swap import ExchangeUnsupported, exchange, exchange_supported
from mdi_lake.writeopts import write_options
from mdi_lake.seqcheck import file_name
from mdi_parquet.layout import META_PREFIX, TMP_SUFFIX, parse_part
from mdi_parquet.storage import fsync_path, write_atomic, write_bytes_atomic

TRASH = f"{STAGING}/.trash"  # swapped-out partition directories, removed by the next run
CRASH_ENV = "MDI_LAKE_CRASH_AT"  # tests: SIGKILL this process at the named step


@dataclass
class CompactStats:
    partitions: int = 0
    skipped: int = 0
    files_in: int = 0
    files_out: int = 0
    rows: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    recovered: int = 0
    failed: int = 0

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Settings:
    older_than_s: float = 3600.0
    target_rows: int = 4_000_000
    row_group_rows: int = 262_144
    compression_level: int = 3
    mode: str = "auto"  # "auto": exchange on local disk when supported, else replace


def compact(lake: Lake, settings: Settings, now_s: float | None = None, log: list[str] | None = None) -> CompactStats:
    started = time.perf_counter()
    _empty_trash(lake)
    stats = CompactStats(recovered=recover(lake))
    plans = plan(lake, scan(lake), now_s=time.time() if now_s is None else now_s, older_than_s=settings.older_than_s, target_rows=settings.target_rows)
    mode = _mode(lake, settings.mode)
    for p in plans:
        if p.skipped:
            stats.skipped += 1
            if log is not None:
                log.append(f"skipped {p.partition}: {p.skipped}")
            continue
        try:
            _compact_partition(lake, p, settings, mode, stats)
        except (RuntimeError, OSError, pa.ArrowException) as exc:
            stats.failed += 1  # nothing visible changed unless the intent was written; the next run repairs
            if log is not None:
                log.append(f"failed {p.partition}: {exc}")
    stats.seconds = time.perf_counter() - started
    return stats


def _mode(lake: Lake, wanted: str) -> str:
    if wanted != "auto":
        return wanted
    if not lake.local:
        return "replace"
    staging = Path(lake.path(STAGING))
    staging.mkdir(parents=True, exist_ok=True)
    return "exchange" if exchange_supported(str(staging)) else "replace"


def _checkpoint(step: str) -> None:
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


# ----- one partition ------------------------------------------------------------------------
def _compact_partition(lake: Lake, p: PartitionPlan, settings: Settings, mode: str, stats: CompactStats) -> None:
    merged = [g for g in p.groups if g.merges]
    inputs = [f.name for g in merged for f in g.files]
    names = _output_names(p, merged)
    if mode == "exchange":
        staging = Path(lake.path(f"{STAGING}/{p.partition}"))
        _fresh_dir(staging)
        outputs = [_write_group(lake, g, name, settings, f"{STAGING}/{p.partition}") for g, name in zip(merged, names)]
        for g in p.groups:
            if not g.merges:
                os.link(lake.path(g.files[0].rel), staging / g.files[0].name)
        fsync_path(staging, directory=True)
        _checkpoint("outputs_written")
        _put_intent(lake, Intent(partition=p.partition, mode=mode, inputs=inputs, outputs=outputs))
        _checkpoint("intent_written")
        _swap(lake, p.partition)
    else:
        _put_intent(lake, Intent(partition=p.partition, mode=mode, inputs=inputs, outputs=[Output(name, g.rows) for g, name in zip(merged, names)]))
        _checkpoint("intent_written")
        outputs = [_write_group(lake, g, name, settings, p.partition) for g, name in zip(merged, names)]
        _checkpoint("outputs_written")
    _finish(lake, read_intent(lake, p.partition))
    stats.partitions += 1
    stats.files_in += len(inputs)
    stats.files_out += len(outputs)
    stats.rows += sum(g.rows for g in merged)
    stats.bytes_in += sum(f.size for g in merged for f in g.files)
    stats.bytes_out += sum(lake.fs.get_file_info(lake.path(f"{p.partition}/{o.name}")).size or 0 for o in outputs)


def _output_names(p: PartitionPlan, merged: list[Group]) -> list[str]:
    """``part-<first>-<last>.parquet`` per merged group; a name any file of the partition (or an
    earlier output) has gets a ``-1``, ``-2`` suffix, as the writer does, so none is overwritten
    (two instances' groups can span the same numbers)."""
    taken = {f.name for f in p.files}
    names: list[str] = []
    for group in merged:
        duplicate = 0
        while (name := file_name(group.instance, *_bounds(group), duplicate)) in taken:
            duplicate += 1
        taken.add(name)
        names.append(name)
    return names


def _bounds(group: Group) -> tuple[int, int]:
    return group.first_seq, group.last_seq


def _merged(lake: Lake, group: Group) -> tuple[pa.Table, dict[str, str]]:
    """The group's rows in order, and the first input's ``mdi.*`` metadata (``mdi.instance``...)."""
    tables = [read_table(lake, f) for f in group.files]
    raw = tables[0].schema.metadata or {}
    first = {k.decode(): v.decode() for k, v in raw.items() if k.decode().startswith(META_PREFIX)}
    return pa.concat_tables([t.replace_schema_metadata(None) for t in tables]), first


def _write_group(lake: Lake, group: Group, name: str, settings: Settings, rel_dir: str) -> Output:
    """Merge one group into ``rel_dir``, read it back and compare, before anything goes."""
    table, inherited = _merged(lake, group)
    seq = pc.min_max(table.column("seq")).as_py()
    if (seq["min"], seq["max"]) != _bounds(group):
        raise RuntimeError(f"{[f.rel for f in group.files]}: footers and rows disagree on seq; see `mdi lake verify`")
    stored = table.replace_schema_metadata({**inherited, **_metadata(group.files[0], table, len(group.files))})
    options = write_options(group.files[0].stream, table.schema)
    rel = f"{rel_dir}/{name}"

    def write(where: str | Path, filesystem: pafs.FileSystem | None = None) -> None:
        pq.write_table(stored, where, filesystem=filesystem, compression="zstd", compression_level=settings.compression_level, row_group_size=settings.row_group_rows, **options)

    if lake.local:
        write_atomic(Path(lake.path(rel)), write)
    else:
        write(lake.path(rel), lake.fs)
    back = pq.read_table(lake.path(rel), filesystem=lake.fs).replace_schema_metadata(None)
    if not back.equals(table):
        raise RuntimeError(f"{rel} does not read back equal to its inputs; inputs left in place")
    return Output(name, table.num_rows)


def _metadata(first: DataFile, table: pa.Table, merged: int) -> dict[str, str]:
    seq = pc.min_max(table.column("seq")).as_py()
    ts = pc.min_max(table.column("ts_recv").cast(pa.int64())).as_py()
    meta = {
        "schema_version": first.version,
        "stream": first.stream,
        "first_seq": seq["min"],
        "last_seq": seq["max"],
        "first_ts_recv": ts["min"],
        "last_ts_recv": ts["max"],
        "rows": table.num_rows,
        "writer_version": mdi.__version__,
        "compacted_from": merged,
    }
    return {f"{META_PREFIX}{k}": str(v) for k, v in meta.items()}


def _fresh_dir(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    fsync_path(path.parent, directory=True)


def _swap(lake: Lake, partition: str) -> None:
    live, staging = Path(lake.path(partition)), Path(lake.path(f"{STAGING}/{partition}"))
    try:
        with lake_lock(lake, exclusive=True):
            exchange(str(live), str(staging))
    except ExchangeUnsupported:
        raise RuntimeError(f"cannot exchange {live} atomically; run with --mode replace") from None
    fsync_path(live.parent, directory=True)
    fsync_path(staging.parent, directory=True)
    _checkpoint("swapped")


# ----- intent files and recovery ------------------------------------------------------------
def _put_intent(lake: Lake, intent: Intent) -> None:
    _put(lake, intent_rel(intent.partition), msgspec.json.encode(intent))


def _put(lake: Lake, rel: str, data: bytes) -> None:
    """Replace a small file whole: tmp + fsync + rename locally, one PUT on object storage."""
    if lake.local:
        path = Path(lake.path(rel))
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, data)
    else:
        lake.write_bytes(rel, data)


def _names(lake: Lake, rel_dir: str) -> set[str]:
    infos = lake.fs.get_file_info(pafs.FileSelector(lake.path(rel_dir), allow_not_found=True))
    return {i.base_name for i in infos if i.type == pafs.FileType.File}


def _finish(lake: Lake, intent: Intent) -> None:
    """Complete a compaction whose outputs are all visible, else undo it; then forget it."""
    live = _names(lake, intent.partition)
    done = all(o.name in live and _rows_ok(lake, f"{intent.partition}/{o.name}", o.rows) for o in intent.outputs)
    if intent.mode == "exchange":
        staging = f"{STAGING}/{intent.partition}"
        if done:
            _move_back(lake, staging, intent)
        _checkpoint("moved_back")
        if done:
            _to_trash(lake, staging)
        else:
            shutil.rmtree(lake.path(staging), ignore_errors=True)
    else:
        doomed = intent.inputs if done else [o.name for o in intent.outputs]
        for name in doomed:
            if name in live:
                lake.delete(f"{intent.partition}/{name}")
        _checkpoint("inputs_deleted")
    if done:
        _repoint_heads(lake, intent)
    lake.delete(intent_rel(intent.partition))
    if lake.local:
        _prune_empty_parents(Path(lake.path(intent_rel(intent.partition))).parent, Path(lake.path(STAGING)))


def _repoint_heads(lake: Lake, intent: Intent) -> None:
    """Index heads that named a merged input now name the output holding their ``last_seq``,
    so the recorder's next start still reads a handful of footers instead of scanning. Every
    index of the version is looked at (one per instance, or the shared one of an older lake)."""
    version, rel_dir = intent.partition.split("/", 1)
    merged = {f"{rel_dir}/{name}" for name in intent.inputs}
    for index_rel in _index_files(lake, version):
        try:
            index = msgspec.json.decode(lake.read_bytes(index_rel))
        except (OSError, pa.ArrowException, msgspec.DecodeError):
            continue
        heads = index.get("heads", {}) if isinstance(index, dict) else {}
        changed = False
        for head in heads.values():
            if head.get("file") not in merged:
                continue
            old = parse_part(head["file"].rsplit("/", 1)[-1])
            for output in intent.outputs:
                new = parse_part(output.name)
                if old and new and new[0] == old[0] and new[1] <= head.get("last_seq", -1) <= new[2]:
                    head["file"], changed = f"{rel_dir}/{output.name}", True
        if changed:
            _put(lake, index_rel, msgspec.json.encode(index))


def _index_files(lake: Lake, version: str) -> list[str]:
    infos = lake.fs.get_file_info(pafs.FileSelector(lake.path(version), allow_not_found=True))
    return sorted(lake.rel(i.path) for i in infos if i.base_name.startswith("_watermark") and i.base_name.endswith(".json"))


def _prune_empty_parents(directory: Path, stop: Path) -> None:
    """Remove the staging tree's empty ``date=``/stream/version directories, up to ``_compact``."""
    while directory != stop and stop in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


def _to_trash(lake: Lake, staging: str) -> None:
    """Keep a swapped-out directory until the next run instead of deleting it now: a plain glob
    reader that opened it just before the swap is still reading its entries, and deleting them
    under it would make it miss that partition's rows silently (it now fails to open them, loudly)."""
    trash = Path(lake.path(TRASH))
    trash.mkdir(parents=True, exist_ok=True)
    os.rename(lake.path(staging), trash / f"{staging[len(STAGING) + 1 :].replace('/', '~')}.{time.time_ns()}")


def _empty_trash(lake: Lake) -> None:
    if lake.local:
        shutil.rmtree(lake.path(TRASH), ignore_errors=True)


def _rows_ok(lake: Lake, rel: str, rows: int) -> bool:
    try:
        with lake.fs.open_input_file(lake.path(rel)) as handle:
            return bool(pq.ParquetFile(handle).metadata.num_rows == rows)
    except (OSError, pa.ArrowException):
        return False


def _move_back(lake: Lake, staging: str, intent: Intent) -> None:
    """Files that reached the old directory after planning (a late write) go to the live one."""
    leave = set(intent.inputs) | {o.name for o in intent.outputs}
    for name in sorted(_names(lake, staging) - leave):
        if name.endswith(TMP_SUFFIX):
            continue
        target = Path(lake.path(f"{intent.partition}/{name}"))
        if not target.exists():
            os.rename(lake.path(f"{staging}/{name}"), target)
    fsync_path(Path(lake.path(intent.partition)), directory=True)


def recover(lake: Lake) -> int:
    """Finish or undo every interrupted compaction; the number of partitions repaired."""
    base = lake.path(STAGING)
    infos = lake.fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    intents = sorted(partition_of(lake.rel(i.path)) for i in infos if i.path.endswith(INTENT_SUFFIX))
    for partition in intents:
        _finish(lake, read_intent(lake, partition))
    leftovers = [
        i for i in lake.fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
        if i.type == pafs.FileType.File and i.base_name != LOCK_NAME and not lake.rel(i.path).startswith(TRASH + "/")
    ]
    for info in leftovers:  # staging without an intent: nothing visible had changed
        lake.fs.delete_file(info.path)
    if leftovers and lake.local:
        for entry in os.scandir(base):
            if entry.is_dir() and entry.path != lake.path(TRASH):
                shutil.rmtree(entry.path)
    return len(intents) + (1 if leftovers else 0)
