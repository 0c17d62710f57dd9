"""Reading one connector's recorded stream in order, a segment at a time."""

from __future__ import annotations

from pathlib import Path

from mdi.capture.format import Record, read_segment, segments


class Cursor:
    """``peek``/``pop`` over the records of a connector's segments (loaded lazily, in order)."""

    def __init__(self, paths: list[Path]) -> None:
        self._paths = list(paths)
        self._records: list[Record] = []
        self._pos = 0

    @classmethod
    def of_directory(cls, directory: Path) -> Cursor:
        return cls(segments(directory))

    def peek(self) -> Record | None:
        while self._pos >= len(self._records):
            if not self._paths:
                return None
            _, self._records = read_segment(self._paths.pop(0))
            self._pos = 0
        return self._records[self._pos]

    def pop(self) -> Record:
        record = self.peek()
        if record is None:
            raise IndexError("capture stream exhausted")
        self._pos += 1
        return record
