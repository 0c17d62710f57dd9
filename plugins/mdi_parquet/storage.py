"""Crash-safe file operations: a reader sees a whole file or none, and what is renamed stays.

Every file is written as ``<name>.tmp``, fsynced, renamed over its final name and the directory
is fsynced, so after a crash a name is either absent or complete. Directories created on the way
are fsynced into their parents too. Leftover ``.tmp`` files are a crash's only trace
(:meth:`mdi_parquet.store.LocalStore.remove_leftovers` removes an instance's own at start-up).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from mdi_parquet.layout import TMP_SUFFIX


def fsync_path(path: Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (os.O_DIRECTORY if directory else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path, known: set[Path]) -> None:
    """Create ``path`` and missing parents, fsyncing each parent that gained an entry.

    ``known`` caches directories already seen to exist, so a flush does not stat its way down
    the tree every time; the caller clears it after an error (a directory may have vanished).
    """
    if path in known:
        return
    missing: list[Path] = []
    probe = path
    while not probe.is_dir():
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            if not directory.is_dir():
                raise
        fsync_path(directory.parent, directory=True)
    known.add(path)


def write_atomic(final: Path, write: Callable[[Path], None]) -> None:
    """Run ``write(tmp_path)``, fsync, rename to ``final``, fsync the directory.

    On any failure the ``.tmp`` file is removed if possible and the error propagates; a ``.tmp``
    that cannot be removed is cleaned up at the next start.
    """
    tmp = final.with_name(final.name + TMP_SUFFIX)
    try:
        write(tmp)
        fsync_path(tmp)
        os.replace(tmp, final)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise
    fsync_path(final.parent, directory=True)


def write_bytes_atomic(final: Path, data: bytes) -> None:
    def write(tmp: Path) -> None:
        tmp.write_bytes(data)

    write_atomic(final, write)
