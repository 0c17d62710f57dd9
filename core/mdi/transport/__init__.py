"""The WebSocket client interface connectors use, so none of them imports a client library.

Two implementations sit behind it: httpx-ws (pure Python, the design card's choice, ~35 µs per
frame) and picows (Cython, ~0.5 µs per frame). ``recv_batch`` returns every frame already
buffered, so a fast transport costs one task switch per *burst*, not per frame.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Literal, Protocol

TransportName = Literal["auto", "httpx-ws", "picows"]
Frame = bytes | str


class TransportError(Exception):
    """Connecting failed or the connection closed; the connector reconnects with backoff."""


class ConnectionClosed(TransportError):
    def __init__(self, code: int | None = None, reason: str = "") -> None:
        super().__init__(f"connection closed (code={code}, reason={reason!r})")
        self.code = code
        self.reason = reason


class WsConnection(Protocol):
    async def send_text(self, text: str) -> None:
        """Send one text frame."""

    async def recv_batch(self, max_frames: int = 1024) -> list[Frame]:
        """Wait for at least one data frame; return all buffered ones (up to ``max_frames``).

        Raises :class:`ConnectionClosed` when the peer closes or the socket drops.
        """

    def take_buffered(self, max_frames: int = 1024) -> list[Frame]:
        """Frames already received, without waiting (``[]`` when none are buffered).

        Lets a connector drain a burst without arming its receive timeout for every batch; a
        transport that cannot tell (httpx-ws hands frames over one at a time) returns ``[]``.
        """

    async def ping(self) -> None:
        """Send a protocol-level ping (pongs to server pings are automatic)."""

    async def close(self) -> None:
        """Close politely; never raises."""


class Transport(Protocol):
    name: str

    def connect(
        self, url: str, *, open_timeout: float = 10.0
    ) -> AbstractAsyncContextManager[WsConnection]:
        """Open a connection; raises :class:`TransportError` on failure."""


def get_transport(name: TransportName | str) -> Transport:
    """Return the transport named in config; ``auto`` is picows (the fast one)."""
    if name in ("auto", "picows"):
        from mdi.transport.picows_transport import PicowsTransport

        return PicowsTransport()
    if name == "httpx-ws":
        from mdi.transport.httpx_ws_transport import HttpxWsTransport

        return HttpxWsTransport()
    raise ValueError(f"unknown transport {name!r}: expected 'auto', 'httpx-ws' or 'picows'")


TRANSPORT_NAMES: tuple[str, ...] = ("auto", "httpx-ws", "picows")
