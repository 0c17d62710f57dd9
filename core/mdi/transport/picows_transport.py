"""picows transport: Cython frame parsing; frames are buffered by a callback and read in bursts.

The buffer is bounded in frames *and* bytes: when either passes its high-water mark the socket
stops reading (TCP back-pressure reaches the venue), and reading resumes once the consumer has
drained both below a quarter of the mark. At most one socket read lands on top of the mark, so
memory stays bounded however fast the venue sends.

picows hands over raw frames: this listener reassembles fragmented messages, answers the
peer's close, and leaves pings to picows' own auto-pong. Text frames come back as UTF-8
``bytes`` (msgspec decodes bytes directly; no str round trip).
"""

from __future__ import annotations

import asyncio
from collections import deque
from contextlib import asynccontextmanager
from typing import AsyncIterator

import anyio
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from mdi.transport import ConnectionClosed, Frame, TransportError

_NO_STATUS = 1005  # RFC 6455: a close frame without a status code
_TEXT, _BINARY = WSMsgType.TEXT, WSMsgType.BINARY  # picows hands out these very members: `is` works


class _Listener(WSListener):  # type: ignore[misc]
    def __init__(self, high_water: int, high_water_bytes: int) -> None:
        self.frames: deque[bytes] = deque()
        self.buffered_bytes = 0
        self.high_water = high_water
        self.low_water = high_water // 4
        self.high_water_bytes = high_water_bytes
        self.low_water_bytes = high_water_bytes // 4
        self.paused = False
        self.closed: tuple[int | None, str] | None = None
        self.wakeup = asyncio.Event()
        self.transport: WSTransport | None = None
        self._partial: list[bytes] = []

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is _TEXT or kind is _BINARY:
            if frame.fin:  # the common case, inlined: this runs once per frame received
                payload = frame.get_payload_as_bytes()
                frames = self.frames
                frames.append(payload)
                self.buffered_bytes += len(payload)
                if len(frames) == 1:
                    self.wakeup.set()  # only the first frame of a burst can have a reader waiting
                if not self.paused and (len(frames) >= self.high_water or self.buffered_bytes >= self.high_water_bytes):
                    self._pause()
            else:
                self._partial = [frame.get_payload_as_bytes()]
        elif kind == WSMsgType.CONTINUATION:
            self._partial.append(frame.get_payload_as_bytes())
            if frame.fin:
                self._push(b"".join(self._partial))
                self._partial = []
        elif kind == WSMsgType.CLOSE:
            self._on_close(transport, frame)

    def _on_close(self, transport: WSTransport, frame: WSFrame) -> None:
        """Record the peer's code and echo it (an empty close is answered with 1000, never 0)."""
        if frame.payload_size >= 2:
            code = frame.get_close_code()
            reason = (frame.get_close_message() or b"").decode("utf-8", "replace")
            self.closed = (int(code.value), reason)
            transport.send_close(code)
        else:
            self.closed = (_NO_STATUS, "")
            transport.send_close(WSCloseCode.OK)
        transport.disconnect()
        self.wakeup.set()

    def _push(self, payload: bytes) -> None:
        frames = self.frames
        frames.append(payload)
        self.buffered_bytes += len(payload)
        self.wakeup.set()
        if not self.paused and (len(frames) >= self.high_water or self.buffered_bytes >= self.high_water_bytes):
            self._pause()

    def _pause(self) -> None:
        if self.transport is not None:
            self.transport.underlying_transport.pause_reading()
            self.paused = True

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self.closed is None:
            self.closed = (None, "disconnected")
        self.wakeup.set()

    def take(self, max_frames: int) -> list[Frame]:
        frames = self.frames
        if len(frames) <= max_frames:
            out: list[Frame] = list(frames)
            frames.clear()
            self.buffered_bytes = 0
        else:
            taken = [frames.popleft() for _ in range(max_frames)]
            self.buffered_bytes -= sum(map(len, taken))
            out = list(taken)
        if self.paused and len(frames) <= self.low_water and self.buffered_bytes <= self.low_water_bytes:
            self.paused = False
            if self.transport is not None and not self.transport.is_disconnected:
                self.transport.underlying_transport.resume_reading()
        return out


class PicowsConnection:
    def __init__(self, transport: WSTransport, listener: _Listener) -> None:
        self._transport = transport
        self._listener = listener
        self._closed_locally = False

    @property
    def buffered_frames(self) -> int:
        """Frames received but not yet taken by :meth:`recv_batch`."""
        return len(self._listener.frames)

    @property
    def buffered_bytes(self) -> int:
        return self._listener.buffered_bytes

    @property
    def reading_paused(self) -> bool:
        """True while the buffer is above its high-water mark and the socket is not read."""
        return self._listener.paused

    def _check_open(self) -> None:
        if self._listener.closed is not None:
            raise ConnectionClosed(*self._listener.closed)
        if self._closed_locally or self._transport.is_disconnected:
            raise ConnectionClosed(1000, "closed locally")

    async def send_text(self, text: str) -> None:
        self._check_open()
        self._transport.send(WSMsgType.TEXT, text.encode())

    async def recv_batch(self, max_frames: int = 1024) -> list[Frame]:
        """Buffered frames first; the close is reported once they are all taken."""
        listener = self._listener
        while not listener.frames:
            self._check_open()
            listener.wakeup.clear()
            await listener.wakeup.wait()
        return listener.take(max_frames)

    def take_buffered(self, max_frames: int = 1024) -> list[Frame]:
        """Buffered frames without waiting; like :meth:`recv_batch`, frames come before the close."""
        listener = self._listener
        return listener.take(max_frames) if listener.frames else []

    async def ping(self) -> None:
        self._check_open()
        self._transport.send_ping()

    async def close(self) -> None:
        """Send a close frame (code 1000), drop the socket and wait for it; never raises."""
        self._closed_locally = True
        with anyio.CancelScope(shield=True), anyio.move_on_after(2):
            try:
                if not self._transport.is_disconnected:
                    self._transport.send_close(WSCloseCode.OK)
                    self._transport.disconnect()
                await self._transport.wait_disconnected()
            except Exception:  # noqa: BLE001 - closing a broken socket must not mask the cause
                pass


class PicowsTransport:
    name = "picows"

    def __init__(self, high_water: int = 16384, high_water_bytes: int = 64 * 1024 * 1024) -> None:
        self.high_water = high_water
        self.high_water_bytes = high_water_bytes

    @asynccontextmanager
    async def connect(self, url: str, *, open_timeout: float = 10.0) -> AsyncIterator[PicowsConnection]:
        listener = _Listener(self.high_water, self.high_water_bytes)
        try:
            with anyio.fail_after(open_timeout):
                transport, _ = await ws_connect(
                    lambda: listener,
                    url,
                    websocket_handshake_timeout=open_timeout,
                    max_frame_size=64 * 1024 * 1024,
                )
        except TimeoutError as exc:
            raise TransportError(f"timed out connecting to {url} (open_timeout={open_timeout}s)") from exc
        except Exception as exc:  # noqa: BLE001 - OSError, bad URL, picows handshake errors
            raise TransportError(f"cannot connect to {url}: {exc!r}") from exc
        if listener.transport is None:
            # picows returns normally when the peer hangs up during the handshake.
            raise TransportError(f"cannot connect to {url}: the peer closed the connection during the handshake")
        conn = PicowsConnection(transport, listener)
        try:
            yield conn
        finally:
            await conn.close()
