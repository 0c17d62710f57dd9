"""Recording: the transport, connection and clock wrappers the core hands each connector.

Why the clock too: every ``ts_recv`` a connector writes (data, gap and status rows) and every
decision it takes on time (ack deadlines, staleness, pings, pacing) comes from ``ctx.clock``.
Recording each value it returned lets replay hand back exactly the same values in the same order,
so the same session code produces the same rows, value for value.
"""

from __future__ import annotations

import json
import os
import struct
import time
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import AsyncIterator, Callable

from mdi.capture.format import CLOCK, CLOSED, FAILED, HEADER, MORE, OPENED, PING, RECV, SENT, TEXT, batch_payload, encode
from mdi.capture.writer import CaptureWriter
from mdi.components import ConnectorContext, PipelineContext
from mdi.config import CaptureConfig
from mdi.stats import ComponentStats, ServiceStats
from mdi.transport import ConnectionClosed, Frame, Transport, TransportError, WsConnection


def run_name() -> str:
    """``run-<UTC time>-<pid>``: sorts in start order, unique per process."""
    return time.strftime("run-%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{os.getpid()}"


class Stream:
    """One connector's record sink: packs records and hands them to the writer."""

    def __init__(self, name: str, writer: CaptureWriter, raw_clock: Callable[[], int]) -> None:
        self.name = name
        self.writer = writer
        self.raw_clock = raw_clock
        self.next_conn = 0

    def add(self, kind: bytes, conn: int, payload: bytes = b"", flags: int = 0, t_ns: int | None = None) -> None:
        t = self.raw_clock() if t_ns is None else t_ns
        self.writer.add(self.name, encode(kind, flags, conn, t, payload))


class RecordingClock:
    """The connector's clock: each value it returns is recorded (a ``T`` record)."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.raw = stream.raw_clock

    def __call__(self) -> int:
        t = self.raw()
        self.stream.writer.add(self.stream.name, encode(CLOCK, 0, 0, t))
        return t


class RecordingConnection:
    """A :class:`WsConnection` that records every frame in and every message out."""

    def __init__(self, inner: WsConnection, stream: Stream, conn: int) -> None:
        self.inner = inner
        self.stream = stream
        self.conn = conn
        self.closed_recorded = False

    def _frames(self, frames: list[Frame]) -> list[Frame]:
        """One ``R`` record for the whole batch, stamped with one receive time (a few C calls)."""
        if frames:
            stream = self.stream
            t = stream.raw_clock()
            if len(frames) == 1 and frames[0].__class__ is bytes:  # the common case at venue rates
                frame: bytes = frames[0]  # type: ignore[assignment]
                record = _ONE.pack(RECV, 0, self.conn, t, len(frame) + 8, 1, len(frame)) + frame
                stream.writer.add_parts(stream.name, [record], len(record), 1)
            elif set(map(type, frames)) == {bytes}:
                record = _batch(0, self.conn, t, frames)  # type: ignore[arg-type]
                stream.writer.add_parts(stream.name, [record], len(record), 1)
            else:
                self._mixed(frames, t)
        return frames

    def _mixed(self, frames: list[Frame], t: int) -> None:
        """Text frames (httpx-ws), or a mix: one record per run of frames of one type."""
        stream, flags, i = self.stream, 0, 0
        while i < len(frames):
            text = isinstance(frames[i], str)
            j = i
            while j < len(frames) and isinstance(frames[j], str) == text:
                j += 1
            run = [f.encode() if isinstance(f, str) else f for f in frames[i:j]]
            stream.writer.add_parts(stream.name, [_batch(flags | (TEXT if text else 0), self.conn, t, run)], 0, 1)
            flags, i = MORE, j

    def _closed(self, exc: TransportError) -> None:
        code = exc.code if isinstance(exc, ConnectionClosed) else None
        reason = exc.reason if isinstance(exc, ConnectionClosed) else str(exc)
        payload = json.dumps({"code": code, "reason": reason, "by": "peer", "error": type(exc).__name__})
        self.stream.add(CLOSED, self.conn, payload.encode())
        self.closed_recorded = True

    async def send_text(self, text: str) -> None:
        try:
            await self.inner.send_text(text)
        except TransportError as exc:
            self._closed(exc)
            raise
        self.stream.add(SENT, self.conn, text.encode())

    async def recv_batch(self, max_frames: int = 1024) -> list[Frame]:
        try:
            frames = await self.inner.recv_batch(max_frames)
        except TransportError as exc:
            self._closed(exc)
            raise
        return self._frames(frames)

    def take_buffered(self, max_frames: int = 1024) -> list[Frame]:
        return self._frames(self.inner.take_buffered(max_frames))

    async def ping(self) -> None:
        await self.inner.ping()
        self.stream.add(SENT, self.conn, b"", PING)

    async def close(self) -> None:
        await self.inner.close()


_ONE = struct.Struct(HEADER.format + "II")  # header, count 1, length: a one-frame batch in one pack


def _batch(flags: int, conn: int, t: int, frames: list[bytes]) -> bytes:
    payload = batch_payload(frames)
    return HEADER.pack(RECV, flags, conn, t, len(payload)) + payload


class RecordingTransport:
    """Wraps the connector's transport: connects are recorded (``O``/``F``, then ``C``)."""

    def __init__(self, inner: Transport, stream: Stream) -> None:
        self.inner = inner
        self.stream = stream
        self.name = inner.name

    def connect(self, url: str, *, open_timeout: float = 10.0) -> AbstractAsyncContextManager[WsConnection]:
        return self._connect(url, open_timeout)

    @asynccontextmanager
    async def _connect(self, url: str, open_timeout: float) -> AsyncIterator[WsConnection]:
        stream = self.stream
        stream.next_conn += 1
        conn = stream.next_conn
        async with AsyncExitStack() as stack:
            try:
                ws = await stack.enter_async_context(self.inner.connect(url, open_timeout=open_timeout))
            except (TransportError, OSError) as exc:
                stream.add(FAILED, conn, f"{type(exc).__name__}: {exc}".encode())
                raise
            stream.add(OPENED, conn, url.encode())
            recording = RecordingConnection(ws, stream, conn)
            try:
                yield recording
            finally:
                if not recording.closed_recorded:
                    stream.add(CLOSED, conn, json.dumps({"code": None, "reason": "", "by": "local"}).encode())


class Recorder:
    """The runtime's context adapter when ``[capture] enabled = true``."""

    def __init__(self, config: CaptureConfig, service: ServiceStats, config_source: str = "") -> None:
        self.stats = ComponentStats(name="capture", kind="capture")
        service.components["capture:capture"] = self.stats
        self.run = run_name()
        self.root = Path(config.root)
        self.writer = CaptureWriter(self.root, self.run, config, self.stats)
        self._keep_config(config_source)

    def _keep_config(self, source: str) -> None:
        """A copy of the config beside the run, so ``mdi replay`` can default to it."""
        if source and Path(source).is_file():
            (self.root / self.run).mkdir(parents=True, exist_ok=True)
            (self.root / self.run / "config.toml").write_bytes(Path(source).read_bytes())

    def connector(self, ctx: ConnectorContext) -> ConnectorContext:
        stream = Stream(ctx.name, self.writer, ctx.clock)
        return replace(ctx, transport=RecordingTransport(ctx.transport, stream), clock=RecordingClock(stream))

    def pipeline(self, ctx: PipelineContext) -> PipelineContext:
        return ctx

    def close(self) -> None:
        self.writer.close()
