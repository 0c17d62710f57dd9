"""The segment file format: a zstd stream of a header line and fixed-header records.

A segment is one zstd stream (``*.mdicap.zst``; ``*.mdicap.zst.open`` while written). Decompressed::

    MDICAP1\\n
    {"connector": ..., "run": ..., "segment": n}\\n      (one JSON line)
    record*                                              (until the end)

A record is ``struct.pack("<cBIqI", kind, flags, conn, t_ns, length)`` (18 bytes) and ``length``
payload bytes. Kinds: ``O`` opened (payload: URL), ``F`` connect failed (error text), ``R``
one receive batch (payload: ``u32`` count n, n ``u32`` frame lengths, the frames back to back),
``S`` sent text, ``C`` closed (JSON ``{"code", "reason", "by"}``), ``T`` a read of the
connector's clock (no payload; ``t_ns`` is the value returned). Flags of ``R``: bit 0 the frames
were text (``str``), bit 1 the record continues the previous batch (a batch mixing text and
binary frames). Flag of ``S``: bit 2 a protocol ping (no payload).

One ``R`` record per batch, not per frame: the event loop then does a few C calls per batch
(``array`` of lengths, one ``join``), which keeps capture's cost per frame small.
"""

from __future__ import annotations

import json
import struct
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pyarrow as pa

MAGIC = b"MDICAP1\n"
HEADER = struct.Struct("<cBIqI")
SUFFIX = ".mdicap.zst"
OPEN_SUFFIX = SUFFIX + ".open"

OPENED, FAILED, RECV, SENT, CLOSED, CLOCK = b"O", b"F", b"R", b"S", b"C", b"T"
TEXT, MORE, PING = 1, 2, 4
COUNT = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class Record:
    kind: bytes
    flags: int
    conn: int
    t_ns: int
    payload: bytes


def encode(kind: bytes, flags: int, conn: int, t_ns: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, flags, conn, t_ns, len(payload)) + payload


def batch_payload(frames: list[bytes]) -> bytes:
    """The ``R`` payload of a batch of frames (all bytes)."""
    return COUNT.pack(len(frames)) + array("I", map(len, frames)).tobytes() + b"".join(frames)


def batch_frames(payload: bytes) -> list[bytes]:
    """The frames of an ``R`` payload, in order."""
    (n,) = COUNT.unpack_from(payload)
    lengths = struct.unpack_from(f"<{n}I", payload, 4)
    pos, out = 4 + 4 * n, []
    for length in lengths:
        out.append(payload[pos:pos + length])
        pos += length
    return out


def segment_header(connector: str, run: str, segment: int) -> bytes:
    line = json.dumps({"connector": connector, "run": run, "segment": segment}).encode()
    return MAGIC + line + b"\n"


def read_segment(path: Path) -> tuple[dict[str, object], list[Record]]:
    """Header and records of one segment; a segment cut short by a crash yields what is whole."""
    data = _decompress(path)
    if path.name.endswith(OPEN_SUFFIX) and b"\n" not in data[len(MAGIC):]:
        return {}, []  # being written (or killed) before its header was flushed: nothing yet
    if not data.startswith(MAGIC):
        raise ValueError(f"{path}: not an mdi capture segment (no {MAGIC!r} header)")
    end = data.index(b"\n", len(MAGIC))
    header = json.loads(data[len(MAGIC):end])
    return header, list(_records(data, end + 1))


def _records(data: bytes, pos: int) -> Iterator[Record]:
    size = HEADER.size
    while pos + size <= len(data):
        kind, flags, conn, t_ns, length = HEADER.unpack_from(data, pos)
        pos += size
        if pos + length > len(data):
            return  # a torn tail (the process was killed mid-write)
        yield Record(kind, flags, conn, t_ns, data[pos:pos + length])
        pos += length


def _decompress(path: Path) -> bytes:
    """The whole decompressed stream, or as much as decompresses cleanly when it was cut."""
    chunks: list[bytes] = []
    try:
        with pa.input_stream(str(path), compression="zstd") as stream:
            while chunk := stream.read(1 << 14):  # small reads: a cut stream yields up to the cut
                chunks.append(chunk)
    except (OSError, pa.ArrowInvalid):
        if not chunks and not path.name.endswith(OPEN_SUFFIX):
            raise
    return b"".join(chunks)


def segments(directory: Path) -> list[Path]:
    """A connector's segments in write order (names sort by segment number)."""
    return sorted(p for p in directory.iterdir() if p.name.endswith((SUFFIX, OPEN_SUFFIX)))


def runs(root: Path) -> list[Path]:
    """Run directories under a capture root (or ``root`` itself when it is one run)."""
    if any(p.is_dir() and segments(p) for p in root.iterdir()):
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("run-"))
