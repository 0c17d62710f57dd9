"""httpx-ws transport: pure Python (wsproto), one frame per receive.

httpx-ws runs its reader in a task group owned by the session context manager. Two consequences
shape this module:

- The session must be entered and exited in the same cancel-scope nesting: wrapping its
  ``__aenter__`` in ``fail_after`` breaks anyio's scope stack. The handshake deadline is
  therefore httpx's own ``Timeout`` (connect, write, and the read of the 101 response).
- An exception leaving the ``async with`` body would come out wrapped in an ``ExceptionGroup``
  by that task group. The body's outcome is kept aside, the session is closed, and the original
  exception is re-raised unwrapped, so a connector's ``except SessionError`` still works.

httpx-ws answers server pings itself (in its reader) and reassembles fragmented messages.
After the peer closes, its reader stops; this wrapper remembers the close so that a second
``recv_batch`` raises again instead of waiting forever, and a send raises ``ConnectionClosed``.

Batches: httpx-ws's reader task hands messages over a zero-size memory stream, one per
rendezvous, so a burst arrives one message per task switch. Handing each one to the rest of the
graph alone would wake the router, every sink and pipeline per message (about 100 µs). So
``recv_batch``, after the first message, keeps taking the messages the reader can parse from
what it has already read (one ``checkpoint`` each, so the reader runs), and stops when the reader
would have to wait for the socket, after :data:`BATCH_WINDOW_S`, or at ``max_frames``. This
reads httpx-ws's receive stream (``AsyncWebSocketSession._receive_event``, checked with
httpx-ws 0.9) without waiting on it; where that attribute is missing, batches are single
messages, as before. A close or error met while batching is reported by the next call, after
the messages before it; a cancelled batch keeps its messages for the next call.
"""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import anyio
import anyio.lowlevel
import httpcore
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream
from httpx_ws import (
    AsyncWebSocketSession,
    HTTPXWSException,
    WebSocketDisconnect,
    aconnect_ws,
)
from wsproto.events import BytesMessage, CloseConnection, TextMessage
from wsproto.utilities import ProtocolError

from mdi.transport import ConnectionClosed, Frame, TransportError

_MAX_MESSAGE = 16 * 1024 * 1024
BATCH_WINDOW_S = 0.001  # longest a batch keeps collecting after its first message
_MISSES_ENDING_A_BURST = 2

# Anything the session raises once the socket is gone or the protocol state forbids the call.
_SESSION_ERRORS: tuple[type[BaseException], ...] = (
    HTTPXWSException,
    ProtocolError,
    httpcore.NetworkError,
    anyio.ClosedResourceError,
    anyio.BrokenResourceError,
    anyio.EndOfStream,
    OSError,
)
_CONNECT_ERRORS: tuple[type[BaseException], ...] = (
    httpx.HTTPError,
    httpx.InvalidURL,
    HTTPXWSException,
    httpcore.ConnectError,
    OSError,
    ValueError,
)


class HttpxWsConnection:
    def __init__(self, session: AsyncWebSocketSession) -> None:
        self._ws = session
        self._closed: ConnectionClosed | None = None
        self._held: list[Frame] = []  # a cancelled batch's messages, returned by the next call
        self._next: Any = None  # a close or error met while batching, reported by the next call
        stream = getattr(session, "_receive_event", None)
        self._stream = stream if isinstance(stream, MemoryObjectReceiveStream) else None

    def _check_open(self) -> None:
        if self._closed is not None:
            raise ConnectionClosed(self._closed.code, self._closed.reason)

    def _mark_closed(self, code: int | None, reason: str) -> ConnectionClosed:
        if self._closed is None:
            self._closed = ConnectionClosed(code, reason)
        return ConnectionClosed(self._closed.code, self._closed.reason)

    async def send_text(self, text: str) -> None:
        self._check_open()
        try:
            await self._ws.send_text(text)
        except _SESSION_ERRORS as exc:
            raise self._mark_closed(None, f"send failed: {exc!r}") from exc

    async def recv_batch(self, max_frames: int = 1024) -> list[Frame]:
        """The next message and those the reader can hand over right after it (see module doc)."""
        if self._held:
            frames, self._held = self._held[:max_frames], self._held[max_frames:]
            return frames
        self._check_open()
        frames = [await self._receive_message()]
        if self._stream is not None:
            try:
                await self._take_ready(frames, max_frames)
            except anyio.get_cancelled_exc_class():
                self._held = frames  # nothing received is lost: the next call returns them
                raise
        return frames

    async def _receive_message(self) -> Frame:
        while True:
            try:
                message = self._held_event() if self._next is not None else await self._ws.receive()
            except WebSocketDisconnect as exc:
                code = None if exc.code is None else int(exc.code)
                raise self._mark_closed(code, exc.reason or "") from exc
            except _SESSION_ERRORS as exc:
                raise self._mark_closed(None, f"receive failed: {exc!r}") from exc
            if isinstance(message, TextMessage):
                return message.data
            if isinstance(message, BytesMessage):
                return bytes(message.data)
            # Any other wsproto event (none expected: pings/pongs are handled by the reader).

    def _held_event(self) -> Any:
        """The event a batch stopped at, as ``AsyncWebSocketSession.receive`` would return it."""
        event, self._next = self._next, None
        if isinstance(event, HTTPXWSException):
            raise event
        if isinstance(event, CloseConnection):
            raise WebSocketDisconnect(event.code, event.reason)
        return event

    async def _take_ready(self, frames: list[Frame], max_frames: int) -> None:
        """Append messages the reader hands over without waiting for the socket."""
        assert self._stream is not None
        stream = self._stream
        deadline = time.monotonic() + BATCH_WINDOW_S
        misses = 0
        while len(frames) < max_frames and time.monotonic() < deadline:
            await anyio.lowlevel.checkpoint()  # the reader parses its next message meanwhile
            try:
                event = stream.receive_nowait()
            except anyio.WouldBlock:
                # The reader's own send yields once before it offers the message, so one miss
                # is normal; two in a row mean it waits for the socket: the burst is over.
                misses += 1
                if misses == _MISSES_ENDING_A_BURST:
                    return
                continue
            except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
                return  # the next receive reports it
            misses = 0
            if isinstance(event, TextMessage):
                frames.append(event.data)
            elif isinstance(event, BytesMessage):
                frames.append(bytes(event.data))
            else:
                self._next = event
                return

    def take_buffered(self, max_frames: int = 1024) -> list[Frame]:
        """Always ``[]``: httpx-ws hands each frame over only when :meth:`recv_batch` waits for it."""
        return []

    async def ping(self) -> None:
        self._check_open()
        try:
            await self._ws.ping()
        except _SESSION_ERRORS as exc:
            raise self._mark_closed(None, f"ping failed: {exc!r}") from exc

    async def close(self) -> None:
        """Send a close frame (code 1000) and drop the socket; never raises."""
        self._mark_closed(1000, "closed locally")
        with anyio.CancelScope(shield=True), anyio.move_on_after(2):
            try:
                await self._ws.close()
            except Exception:  # noqa: BLE001 - closing a broken socket must not mask the cause
                pass


class HttpxWsTransport:
    name = "httpx-ws"

    @asynccontextmanager
    async def connect(self, url: str, *, open_timeout: float = 10.0) -> AsyncIterator[HttpxWsConnection]:
        if not url.startswith(("ws://", "wss://")):
            # httpx would also take http(s)://; refuse it so both transports agree on what a URL is.
            raise TransportError(f"cannot connect to {url!r}: the scheme must be ws:// or wss://")
        async with httpx.AsyncClient(timeout=httpx.Timeout(open_timeout)) as client:
            cm: Any = aconnect_ws(url, client, max_message_size_bytes=_MAX_MESSAGE, keepalive_ping_interval_seconds=None)
            session = await _open(cm, url, open_timeout)
            conn = HttpxWsConnection(session)
            outcome: BaseException | None = None
            try:
                yield conn
            except BaseException as exc:  # noqa: BLE001 - re-raised below, after the session closed
                outcome = exc
            conn._mark_closed(1000, "closed locally")
            try:
                await cm.__aexit__(None, None, None)
            except BaseException as exc:  # noqa: BLE001
                _raise_exit_error(exc, outcome)
            if outcome is not None:
                raise outcome


async def _open(cm: Any, url: str, open_timeout: float) -> AsyncWebSocketSession:
    """Enter the httpx-ws context (the handshake); every failure becomes a TransportError."""
    try:
        session: AsyncWebSocketSession = await cm.__aenter__()
    except httpx.TimeoutException as exc:
        raise TransportError(f"timed out connecting to {url} (open_timeout={open_timeout}s)") from exc
    except _CONNECT_ERRORS as exc:
        raise TransportError(f"cannot connect to {url}: {exc!r}") from exc
    return session


def _raise_exit_error(exc: BaseException, outcome: BaseException | None) -> None:
    """Decide what leaves ``connect`` when closing the session itself raised.

    Cancellation always wins (the caller is being cancelled). A failure of httpx-ws's reader
    task surfaces here as an exception group; it means the connection broke, so it becomes
    :class:`ConnectionClosed` unless the body already had a real (non-cancellation) error.
    """
    cancelled = anyio.get_cancelled_exc_class()
    if isinstance(exc, cancelled):
        raise exc
    if outcome is not None and not isinstance(outcome, cancelled):
        raise outcome
    if isinstance(exc, Exception):
        raise ConnectionClosed(None, f"websocket reader failed: {exc!r}") from exc
    raise exc
