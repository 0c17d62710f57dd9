"""httpx-ws transport: pure Python (wsproto), one frame per receive."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

import anyio
import httpx
from httpx_ws import (
    AsyncWebSocketSession,
    HTTPXWSException,
    WebSocketDisconnect,
    WebSocketNetworkError,
    aconnect_ws,
)
from wsproto.events import BytesMessage, TextMessage

from mdi.transport import ConnectionClosed, Frame, TransportError

_MAX_MESSAGE = 16 * 1024 * 1024


class HttpxWsConnection:
    def __init__(self, session: AsyncWebSocketSession) -> None:
        self._ws = session

    async def send_text(self, text: str) -> None:
        try:
            await self._ws.send_text(text)
        except (HTTPXWSException, WebSocketNetworkError, anyio.ClosedResourceError) as exc:
            raise ConnectionClosed(None, str(exc)) from exc

    async def recv_batch(self, max_frames: int = 1024) -> list[Frame]:
        try:
            message = await self._ws.receive()
        except WebSocketDisconnect as exc:
            raise ConnectionClosed(exc.code, exc.reason or "") from exc
        except (HTTPXWSException, WebSocketNetworkError, anyio.ClosedResourceError) as exc:
            raise ConnectionClosed(None, str(exc)) from exc
        if isinstance(message, TextMessage):
            return [message.data]
        if isinstance(message, BytesMessage):
            return [bytes(message.data)]
        return []

    async def ping(self) -> None:
        try:
            await self._ws.ping()
        except (HTTPXWSException, WebSocketNetworkError, anyio.ClosedResourceError) as exc:
            raise ConnectionClosed(None, str(exc)) from exc

    async def close(self) -> None:
        with anyio.CancelScope(shield=True), anyio.move_on_after(2):
            try:
                await self._ws.close()
            except Exception:  # noqa: BLE001 - closing a broken socket must not mask the cause
                pass


class HttpxWsTransport:
    name = "httpx-ws"

    @asynccontextmanager
    async def connect(self, url: str, *, open_timeout: float = 10.0) -> AsyncIterator[HttpxWsConnection]:
        timeout = httpx.Timeout(open_timeout)
        async with httpx.AsyncClient(timeout=timeout) as client:
            try:
                with anyio.fail_after(open_timeout):
                    cm = aconnect_ws(
                        url,
                        client,
                        max_message_size_bytes=_MAX_MESSAGE,
                        keepalive_ping_interval_seconds=None,
                    )
                    session = await cm.__aenter__()
            except TimeoutError as exc:
                raise TransportError(f"timed out connecting to {url}") from exc
            except (httpx.HTTPError, HTTPXWSException, OSError) as exc:
                raise TransportError(f"cannot connect to {url}: {exc}") from exc
            conn = HttpxWsConnection(session)
            try:
                yield conn
            finally:
                with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                    try:
                        await cm.__aexit__(None, None, None)
                    except Exception:  # noqa: BLE001
                        pass
