"""Where the lake's bytes go: a local directory or an S3-compatible bucket, behind one interface.

The writer and the recovery speak only in keys relative to the lake root (``v1/trade/...``) and
these few operations, so the durable sink (and the write-ahead journal that feeds it) does not
care which storage it is on. Every operation blocks: the sink calls them in its worker threads.

The one promise every backend keeps is :meth:`Store.create`: the object appears whole or not at
all, and never replaces an existing one (S3 has no rename, so it is a create-only put of the
final object there; a local directory gets a ``.tmp``, fsync and a hard link, which also refuses
to replace). :meth:`Store.replace` is for objects only this instance writes (its own watermark).
Failures raise :class:`OSError` (:class:`StoreError` for object stores), which the sink retries.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from mdi_parquet.layout import TMP_SUFFIX
from mdi_parquet.storage import ensure_dir, fsync_path, write_bytes_atomic

# ``write(sink)`` writes a Parquet file into ``sink``: a local path or a pyarrow output stream.
WriteFn = Callable[[Any], None]
# The errors a store raises for I/O trouble (the sink retries them; anything else is a bug).
IO_ERRORS = (OSError, pa.ArrowException)


class StoreError(OSError):
    """An object store failed or could not be reached; the message says which and why."""


class Store(Protocol):
    """Storage for one lake root; keys are ``/``-separated and relative to the root."""

    url: str  # where the lake is, without secrets (logs, /health)

    def create(self, key: str, write: WriteFn) -> int | None:
        """Write a new object; its size, or None if ``key`` already exists (nothing replaced)."""
        ...

    def replace(self, key: str, data: bytes) -> None:
        """Write or overwrite ``key`` atomically (only for objects this instance alone writes)."""
        ...

    def read(self, key: str) -> bytes | None:
        """The object's bytes, None if it does not exist."""
        ...

    def size(self, key: str) -> int | None:
        """The object's size in bytes, None if it does not exist."""
        ...

    def names(self, prefix: str) -> list[str]:
        """Names of the objects directly under ``prefix`` (a directory key, no trailing ``/``)."""
        ...

    def subdirs(self, prefix: str) -> list[str]:
        """Names of the directories directly under ``prefix`` (``""`` is the root)."""
        ...

    def files(self, prefix: str) -> Iterator[str]:
        """Every object key under ``prefix``, recursively, relative to the root."""
        ...

    def metadata(self, key: str) -> pq.FileMetaData | None:
        """A Parquet object's footer; None if it is missing or not Parquet."""
        ...

    def schema(self, key: str) -> pa.Schema:
        ...

    def remove_leftovers(self, prefix: str, owned: Callable[[str], bool]) -> int:
        """Delete crash leftovers under ``prefix`` whose names ``owned`` accepts; how many."""
        ...

    def forget(self) -> None:
        """Drop cached knowledge (e.g. which directories exist) after an error."""
        ...


class LocalStore:
    """A directory on a local (or shared POSIX) file system: ``.tmp``, fsync, link, fsync."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)
        self._known_dirs: set[Path] = set()

    def create(self, key: str, write: WriteFn) -> int | None:
        final = self.root / key
        ensure_dir(final.parent, self._known_dirs)
        tmp = final.with_name(final.name + TMP_SUFFIX)
        try:
            write(tmp)
            fsync_path(tmp)
            if not _link_new(tmp, final):
                return None
        finally:
            tmp.unlink(missing_ok=True)
        fsync_path(final.parent, directory=True)
        return final.stat().st_size

    def replace(self, key: str, data: bytes) -> None:
        final = self.root / key
        ensure_dir(final.parent, self._known_dirs)
        write_bytes_atomic(final, data)

    def read(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None

    def size(self, key: str) -> int | None:
        try:
            return (self.root / key).stat().st_size
        except FileNotFoundError:
            return None

    def names(self, prefix: str) -> list[str]:
        directory = self.root / prefix
        return [p.name for p in directory.iterdir() if p.is_file()] if directory.is_dir() else []

    def subdirs(self, prefix: str) -> list[str]:
        directory = self.root / prefix
        return [p.name for p in directory.iterdir() if p.is_dir()] if directory.is_dir() else []

    def files(self, prefix: str) -> Iterator[str]:
        top = self.root / prefix
        for dirpath, _, filenames in os.walk(top):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                yield f"{rel}/{name}"

    def metadata(self, key: str) -> pq.FileMetaData | None:
        try:
            return pq.read_metadata(self.root / key)
        except (OSError, pa.ArrowException):
            return None

    def schema(self, key: str) -> pa.Schema:
        return pq.read_schema(self.root / key)

    def remove_leftovers(self, prefix: str, owned: Callable[[str], bool]) -> int:
        directory = self.root / prefix
        if not directory.is_dir():
            return 0
        removed = 0
        for entry in directory.iterdir():
            if entry.name.endswith(TMP_SUFFIX) and owned(entry.name[: -len(TMP_SUFFIX)]) and entry.is_file():
                entry.unlink()
                removed += 1
        if removed:
            fsync_path(directory, directory=True)
        return removed

    def forget(self) -> None:
        self._known_dirs.clear()


def _link_new(tmp: Path, final: Path) -> bool:
    """Give ``tmp`` the name ``final`` unless it is taken (atomic: a hard link never replaces).

    A file system without hard links falls back to check-then-rename, which is only safe with
    one writer per directory: true here, since each instance writes its own names.
    """
    try:
        os.link(tmp, final)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
    if final.exists():
        return False
    os.replace(tmp, final)
    return True


def open_store(root: str, options: dict[str, str] | None = None) -> Store:
    """The store for ``[sinks.parquet] root``: ``s3://bucket/prefix`` or a directory path."""
    if root.startswith("s3://"):
        from mdi_parquet.s3 import S3Store  # optional extra: md-ingest[s3]

        return S3Store.from_url(root, options or {})
    return LocalStore(Path(root))
