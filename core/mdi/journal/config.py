"""``[journal]``: the write-ahead journal under the durable sinks (see docs/configuration.md)."""

from __future__ import annotations

from typing import Annotated

import msgspec

MIB = 1024 * 1024


class JournalConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Off unless ``enabled = true`` (the shipped config.toml enables it).

    ``fsync_interval`` (s) is the group-commit period: what kill -9 or a power cut can lose.
    ``segment_bytes`` is the size at which a segment file is closed and a new one begun (a whole
    segment is released at once); ``max_bytes`` caps the journal on disk: when it is reached the
    durable path waits until the sinks have committed the oldest segment. ``max_pending_bytes``
    bounds the encoded events waiting for the next group commit (memory): appends wait beyond it.
    ``reserve`` sequence numbers are made durable ahead of use, so a restart continues above every
    number any consumer can have seen.
    """

    enabled: bool = False
    root: str = "journal"
    fsync_interval: Annotated[float, msgspec.Meta(gt=0, le=10)] = 0.05
    segment_bytes: Annotated[int, msgspec.Meta(ge=64 * 1024)] = 64 * MIB
    max_bytes: Annotated[int, msgspec.Meta(ge=128 * 1024)] = 4096 * MIB
    max_pending_bytes: Annotated[int, msgspec.Meta(ge=64 * 1024)] = 64 * MIB
    reserve: Annotated[int, msgspec.Meta(ge=1000)] = 1_000_000
    retry_interval: Annotated[float, msgspec.Meta(gt=0)] = 0.5

    def __post_init__(self) -> None:
        if not self.root:
            raise ValueError("root must be a directory path, got an empty string")
        if self.max_bytes < 2 * self.segment_bytes:
            raise ValueError("max_bytes must be at least 2 * segment_bytes (one segment is always being written)")
