"""A lake root opened through ``pyarrow.fs``: local paths and ``s3://`` URIs alike."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs


class LakeError(Exception):
    """A lake that cannot be used as asked; the message says what and how to fix it."""


@dataclass(frozen=True)
class Lake:
    fs: pafs.FileSystem
    root: str  # path inside ``fs``, without a trailing slash
    uri: str

    @property
    def local(self) -> bool:
        """Local disk: renames are atomic and directories can be exchanged in one step."""
        return isinstance(self.fs, pafs.LocalFileSystem)

    def path(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def rel(self, path: str) -> str:
        return path[len(self.root) + 1 :] if path.startswith(self.root + "/") else path

    def exists(self, rel: str) -> bool:
        return bool(self.fs.get_file_info(self.path(rel)).type != pafs.FileType.NotFound)

    def read_bytes(self, rel: str) -> bytes:
        with self.fs.open_input_stream(self.path(rel)) as stream:
            return bytes(stream.read())

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write a whole object (atomic on object storage; callers rename on local disk)."""
        parent = self.path(rel).rsplit("/", 1)[0]
        self.fs.create_dir(parent, recursive=True)  # a filesystem underneath needs it; a store ignores it
        with self.fs.open_output_stream(self.path(rel)) as stream:
            stream.write(data)

    def delete(self, rel: str) -> None:
        self.fs.delete_file(self.path(rel))


def open_lake(uri: str, *, must_exist: bool = True) -> Lake:
    """Open ``uri`` (a path or any URI ``pyarrow.fs.FileSystem.from_uri`` knows)."""
    try:
        if "://" in uri:
            fs, root = pafs.FileSystem.from_uri(uri)
        else:
            fs, root = pafs.LocalFileSystem(), os.path.abspath(uri)
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise LakeError(f"cannot open lake {uri!r}: {exc}") from None
    lake = Lake(fs=fs, root=root.rstrip("/"), uri=uri)
    if must_exist:
        info = fs.get_file_info(lake.root)
        if info.type != pafs.FileType.Directory and not (not lake.local and _has_objects(lake)):
            raise LakeError(f"no lake at {uri!r}: expected the directory the parquet sink's `root` names")
    return lake


def _has_objects(lake: Lake) -> bool:
    """Object stores have no directories: a prefix exists when something is under it."""
    try:
        return bool(lake.fs.get_file_info(pafs.FileSelector(lake.root, recursive=False)))
    except (pa.ArrowException, OSError):
        return False
