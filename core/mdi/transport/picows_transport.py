"""picows transport: Cython frame parsing; frames are buffered by a callback and read in bursts.

The buffer is bounded: above ``high_water`` frames the socket stops reading (TCP back-pressure
reaches the venue) and resumes once the consumer has drained it below ``low_water``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from contextlib import asynccontextmanager
from typing import AsyncIterator

import anyio
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from mdi.transport import ConnectionClosed, Frame, TransportError


class _Listener(WSListener):  # type: ignore[misc]
    def __init__(self, high_water: int) -> None:
        self.frames: deque[bytes] = deque()
        self.high_water = high_water
        self.low_water = high_water // 4
        self.paused = False
        self.closed: tuple[int | None, str] | None = None
        self.wakeup = asyncio.Event()
        self.transport: WSTransport | None = None
        self._partial: list[bytes] = []

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind == WSMsgType.TEXT or kind == WSMsgType.BINARY:
            if frame.fin:
                self._push(frame.get_payload_as_bytes())
            else:
                self._partial = [frame.get_payload_as_bytes()]
        elif kind == WSMsgType.CONTINUATION:
            self._partial.append(frame.get_payload_as_bytes())
            if frame.fin:
                self._push(b"".join(self._partial))
                self._partial = []
        elif kind == WSMsgType.CLOSE:
            code = frame.get_close_code()
            message = frame.get_close_message() or b""
            self.closed = (int(code), message.decode("utf-8", "replace"))
            transport.send_close(frame.get_close_code())
            transport.disconnect()
            self.wakeup.set()

    def _push(self, payload: bytes) -> None:
        self.frames.append(payload)
        self.wakeup.set()
        if not self.paused and len(self.frames) >= self.high_water and self.transport:
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
        else:
            out = [frames.popleft() for _ in range(max_frames)]
        if self.paused and len(frames) <= self.low_water and self.transport:
            self.transport.underlying_transport.resume_reading()
            self.paused = False
        return out


class PicowsConnection:
    def __init__(self, transport: WSTransport, listener: _Listener) -> None:
        self._transport = transport
        self._listener = listener

    async def send_text(self, text: str) -> None:
        if self._listener.closed is not None:
            raise ConnectionClosed(*self._listener.closed)
        self._transport.send(WSMsgType.TEXT, text.encode())

    async def recv_batch(self, max_frames: int = 1024) -> list[Frame]:
        listener = self._listener
        while not listener.frames:
            if listener.closed is not None:
                raise ConnectionClosed(*listener.closed)
            listener.wakeup.clear()
            await listener.wakeup.wait()
        return listener.take(max_frames)

    async def ping(self) -> None:
        if self._listener.closed is not None:
            raise ConnectionClosed(*self._listener.closed)
        self._transport.send_ping()

    async def close(self) -> None:
        with anyio.CancelScope(shield=True), anyio.move_on_after(2):
            try:
                if not self._transport.is_disconnected():
                    self._transport.send_close()
                    self._transport.disconnect()
                await self._transport.wait_disconnected()
            except Exception:  # noqa: BLE001 - closing a broken socket must not mask the cause
                pass


class PicowsTransport:
    name = "picows"

    def __init__(self, high_water: int = 16384) -> None:
        self.high_water = high_water

    @asynccontextmanager
    async def connect(self, url: str, *, open_timeout: float = 10.0) -> AsyncIterator[PicowsConnection]:
        listener = _Listener(self.high_water)
        try:
            with anyio.fail_after(open_timeout):
                transport, _ = await ws_connect(
                    lambda: listener,
                    url,
                    websocket_handshake_timeout=open_timeout,
                    max_frame_size=64 * 1024 * 1024,
                )
        except TimeoutError as exc:
            raise TransportError(f"timed out connecting to {url}") from exc
        except (OSError, asyncio.TimeoutError) as exc:
            raise TransportError(f"cannot connect to {url}: {exc}") from exc
        except Exception as exc:  # picows raises its own handshake errors
            raise TransportError(f"cannot connect to {url}: {exc!r}") from exc
        conn = PicowsConnection(transport, listener)
        try:
            yield conn
        finally:
            await conn.close()
