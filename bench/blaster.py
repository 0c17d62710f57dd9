"""Pre-framed Kraken frames written straight to a simulator's socket, as fast as the client reads.

Why not ``sim.broadcast``: the simulator is Python too, and on a 2-core machine its per-frame
cost (websockets framing, ~3 µs) would be charged to the same two cores the mdi process needs.
So the frames are serialized once, as complete unmasked server-to-client WebSocket frames, and a
whole chunk of them goes out in one ``transport.write``: the simulator costs a memcpy per chunk.
The connection itself is the simulator's (same handshake, subscribe acks, heartbeats, pings);
the simulator's own writes and these chunks interleave only at frame boundaries, because both
write whole frames synchronously.

The frames are the Kraken simulator's own demo stream (``ticker`` updates with
``event_trigger=bbo`` shape, and ``trade`` updates of 1-3 trades each), built once into a pool
that is sent round and round. Trade ids are rewritten at send time into one consecutive
sequence, so the connector's de-duplication and gap check see a real, gap-free trade feed (a
repeated id would be dropped as a duplicate and the run would look lossy).

Flow control is the server's: after each chunk the sender awaits the connection's ``drain``
(asyncio transport high-water mark), so "as fast as the client takes them" is literal.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any, Iterable

from mdi_kraken.sim import KrakenSimulator

TRADE_ID = re.compile(rb'"trade_id":(\d+)')
FIRST_TRADE_ID = 100_000_000
WRITE_HIGH_WATER = 1 << 20  # bytes queued in the simulator before it waits for the client
CHUNK_FRAMES = 256


def ws_text_frame(payload: bytes) -> bytes:
    """One final, unmasked text frame (RFC 6455 5.2): what a server sends."""
    n = len(payload)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 65536:
        header = b"\x81\x7e" + n.to_bytes(2, "big")
    else:
        header = b"\x81\x7f" + n.to_bytes(8, "big")
    return header + payload


@dataclass(frozen=True)
class PoolFrame:
    """A frame ready to send (``framed``), or a trade frame kept as the text around its ids."""

    framed: bytes
    parts: tuple[bytes, ...]  # trade frames: text between trade ids; empty for other frames
    events: int  # events the connector makes of it (one per ``symbol`` entry in ``data``)


class FramePool:
    """Frames sent round and round; each trade frame gets fresh consecutive trade ids."""

    def __init__(self, texts: Iterable[str], first_trade_id: int = FIRST_TRADE_ID) -> None:
        self.frames = [self._prepare(text.encode()) for text in texts]
        if not self.frames:
            raise ValueError("empty frame pool")
        self.next_trade_id = first_trade_id
        self.position = 0
        self.events_per_frame = sum(f.events for f in self.frames) / len(self.frames)

    @staticmethod
    def _prepare(payload: bytes) -> PoolFrame:
        events = payload.count(b'"symbol":')
        parts = tuple(TRADE_ID.split(payload)[::2])
        if len(parts) > 1:
            return PoolFrame(framed=b"", parts=parts, events=events)
        return PoolFrame(framed=ws_text_frame(payload), parts=(), events=events)

    def take(self, count: int) -> tuple[bytes, int]:
        """The next ``count`` frames as one byte string, and the events they carry."""
        out: list[bytes] = []
        events = 0
        frames, size, position = self.frames, len(self.frames), self.position
        for _ in range(count):
            frame = frames[position]
            position = position + 1 if position + 1 < size else 0
            events += frame.events
            if frame.parts:
                out.append(self._with_ids(frame.parts))
            else:
                out.append(frame.framed)
        self.position = position
        return b"".join(out), events

    def _with_ids(self, parts: tuple[bytes, ...]) -> bytes:
        pieces = [parts[0]]
        trade_id = self.next_trade_id
        for part in parts[1:]:
            pieces.append(b'"trade_id":%d' % trade_id)
            pieces.append(part)
            trade_id += 1
        self.next_trade_id = trade_id
        return ws_text_frame(b"".join(pieces))


def kraken_pool(size: int = 4096, seed: int = 11) -> FramePool:
    """``size`` frames of the Kraken simulator's demo stream (a private, unserved instance)."""
    frames = KrakenSimulator(seed=seed).demo_frames()
    return FramePool(next(frames) for _ in range(size))


class Blaster:
    """Writes pool frames to every subscriber of ``sim``: at ``rate`` events/s, or flat out."""

    def __init__(self, sim: KrakenSimulator, pool: FramePool) -> None:
        self.sim = sim
        self.pool = pool
        self.frames = 0
        self.events = 0
        self.error = ""
        self.running = False

    async def run(self, rate: float, stop: asyncio.Event) -> None:
        """Until ``stop`` is set; ``rate`` <= 0 means as fast as the client takes the frames."""
        conns = list(self.sim.subscribers)
        if not conns:
            self.error = "no subscriber to blast"
            return
        for conn in conns:
            conn.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self.running = True
        try:
            if rate > 0:
                await self._paced(conns, rate, stop)
            else:
                await self._flat_out(conns, stop)
        except (ConnectionError, RuntimeError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.running = False

    async def _send(self, conns: list[Any], frames: int) -> None:
        data, events = self.pool.take(frames)
        for conn in conns:
            if conn.transport.is_closing():
                raise ConnectionError("client connection closed")
            conn.transport.write(data)
        self.frames += frames
        self.events += events
        for conn in conns:
            await conn.drain()

    async def _flat_out(self, conns: list[Any], stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._send(conns, CHUNK_FRAMES)
            await asyncio.sleep(0)  # let heartbeats, replies and the control channel run

    async def _paced(self, conns: list[Any], rate: float, stop: asyncio.Event) -> None:
        """Every ~1 ms, send the frames whose events are due by now: a smooth offered rate."""
        per_frame = self.pool.events_per_frame
        start = time.monotonic()
        first = self.events
        while not stop.is_set():
            due = rate * (time.monotonic() - start) - (self.events - first)
            if due >= per_frame:
                await self._send(conns, max(1, int(due / per_frame)))
            await asyncio.sleep(0.001)
