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
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import anyio
import httpcore
import httpx
from httpx_ws import (
    AsyncWebSocketSession,
    HTTPXWSException,
    WebSocketDisconnect,
    aconnect_ws,
)
from wsproto.events import BytesMessage, TextMessage
from wsproto.utilities import ProtocolError

from mdi.transport import ConnectionClosed, Frame, TransportError

_MAX_MESSAGE = 16 * 1024 * 1024

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
        """One message per call: httpx-ws hands frames over a zero-size stream one at a time."""
        self._check_open()
        while True:
            try:
                message = await self._ws.receive()
            except WebSocketDisconnect as exc:
                code = None if exc.code is None else int(exc.code)
                raise self._mark_closed(code, exc.reason or "") from exc
            except _SESSION_ERRORS as exc:
                raise self._mark_closed(None, f"receive failed: {exc!r}") from exc
            if isinstance(message, TextMessage):
                return [message.data]
            if isinstance(message, BytesMessage):
                return [bytes(message.data)]
            # Any other wsproto event (none expected: pings/pongs are handled by the reader).

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
