"""Base class for venue simulators: a WebSocket server with fault injection.

A subclass implements :meth:`VenueSimulator.on_message` (answer subscriptions, pings, requests)
and may override :meth:`VenueSimulator.heartbeat` (sent every ``heartbeat_interval`` while a
client is connected). Knobs for tests: ``reject`` (subscription keys to refuse), ``stalled``
(keep heartbeats but send no data), :meth:`disconnect_all`, :meth:`send_raw` (garbage),
:meth:`replay` (recorded frames at a rate).

REST: the same port answers plain HTTP ``GET`` requests (no WebSocket upgrade) through
:meth:`VenueSimulator.on_rest`, so a venue's public REST API can be simulated beside its stream
(``rest_url``). ``rest_faults`` holds HTTP statuses to answer the next requests with (429: rate
limited, 5xx: venue trouble), in order; ``rest_requests`` records every request path.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from decimal import Decimal
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit
from typing import Any, Iterable, Iterator

import anyio
import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

log = logging.getLogger("mdi.testing.sim")

_TWO_PI = 2 * math.pi


def reference_price(ns: int, base: Decimal = Decimal("65000"), tick: Decimal = Decimal("0.01")) -> Decimal:
    """A deterministic BTC price path shared by every simulator's demo stream.

    A function of wall-clock time only, so independent simulators (even in separate processes)
    quote the same market and a consolidated mid across them is sane: a slow swing of +-0.4 %
    over 15 minutes plus a +-0.05 % wiggle over a minute.
    """
    t = ns / 1e9
    factor = 1 + 0.004 * math.sin(_TWO_PI * t / 900) + 0.0005 * math.sin(_TWO_PI * t / 61)
    return (base * Decimal(repr(factor))).quantize(tick)


class VenueSimulator:
    venue: str = "sim"
    path: str = "/"
    heartbeat_interval: float | None = None

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.connections: set[ServerConnection] = set()
        self.subscribers: set[ServerConnection] = set()
        self.received: list[str] = []
        self.connect_count = 0
        self.reject: set[str] = set()
        self.stalled = False
        self.rest_faults: deque[int] = deque()
        self.rest_requests: list[str] = []
        self._server: Server | None = None
        self._connected = anyio.Event()

    # ----- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        self._server = await serve(
            self._handler, self.host, self.port, max_size=None, ping_interval=None, compression=None,
            process_request=self._process_request,
        )
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with anyio.move_on_after(5, shield=True):
                await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> VenueSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}{self.path}"

    @property
    def rest_url(self) -> str:
        """Base URL of the simulated REST API (same host and port as the WebSocket)."""
        return f"http://{self.host}:{self.port}"

    # ----- protocol hooks --------------------------------------------------------------
    async def on_connect(self, conn: ServerConnection) -> None:
        """Called when a client connects (e.g. send a status frame)."""

    async def on_message(self, conn: ServerConnection, text: str) -> None:
        """Answer one client message. Default: ignore."""

    def heartbeat(self) -> str | None:
        """Text of a heartbeat frame, or None for no heartbeats."""
        return None

    def heartbeat_for(self, conn: ServerConnection) -> str | None:
        """Heartbeat for one connection; default :meth:`heartbeat`. Override when heartbeats
        depend on the connection (a per-connection sequence number, a subscription)."""
        return self.heartbeat()

    def demo_frames(self) -> Iterator[str]:
        """Endless realistic data frames (current timestamps, moving prices) for ``mdi demo``
        and the benchmarks. Subclasses build them from the venue's recorded frame shapes."""
        return iter(())

    def sim_url(self) -> str:
        """The URL a connector should use for this simulator (some venues add a path)."""
        return self.url

    def sim_settings(self) -> dict[str, Any]:
        """Connector config keys ``mdi demo`` sets to use this simulator (``url``; REST venues
        add ``rest_url``)."""
        return {"url": self.sim_url()}

    def on_rest(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        """Answer one REST ``GET``: (HTTP status, JSON body). Default: 404."""
        return 404, {"error": "not found", "path": path}

    def rest_fault(self, status: int) -> tuple[int, Any]:
        """The answer for a status taken from ``rest_faults``; venues override with their shape."""
        return status, {"error": HTTPStatus(status).phrase}

    async def stream_demo(self, rate: float) -> None:
        """Broadcast :meth:`demo_frames` at ``rate`` frames per second until cancelled."""
        await self.replay(self.demo_frames(), rate=rate)

    # ----- actions ---------------------------------------------------------------------
    async def send(self, conn: ServerConnection, text: str | bytes) -> None:
        try:
            await conn.send(text)
        except ConnectionClosed:
            pass

    async def broadcast(self, text: str | bytes) -> int:
        """Send a data frame to every subscribed client (nothing while ``stalled``)."""
        if self.stalled:
            return 0
        sent = 0
        for conn in list(self.subscribers):
            try:
                await conn.send(text)
                sent += 1
            except ConnectionClosed:
                self.subscribers.discard(conn)
        return sent

    async def send_raw(self, text: str | bytes) -> None:
        """Send anything (garbage included) to every connected client."""
        for conn in list(self.connections):
            await self.send(conn, text)

    async def replay(self, frames: Iterable[str | bytes], rate: float | None = None) -> int:
        """Broadcast ``frames``; ``rate`` frames per second, or as fast as clients take them."""
        delay = 1.0 / rate if rate else 0.0
        n = 0
        for frame in frames:
            n += await self.broadcast(frame) and 1
            if delay:
                await anyio.sleep(delay)
        return n

    async def disconnect_all(self, code: int = 1011, reason: str = "simulated disconnect") -> None:
        for conn in list(self.connections):
            await conn.close(code, reason)

    async def wait_connected(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until at least ``count`` connections have been accepted in total."""
        with anyio.fail_after(timeout):
            while self.connect_count < count:
                await anyio.sleep(0.01)

    async def wait_subscribed(self, timeout: float = 10.0) -> None:
        """Wait until some client has subscribed (see ``subscribers``)."""
        with anyio.fail_after(timeout):
            while not self.subscribers:
                await anyio.sleep(0.01)

    # ----- internals -------------------------------------------------------------------
    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        """Plain HTTP requests are REST calls; WebSocket upgrades go on to the handshake."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        self.rest_requests.append(request.path)
        url = urlsplit(request.path)
        if self.rest_faults:
            status, body = self.rest_fault(self.rest_faults.popleft())
        else:
            status, body = self.on_rest(url.path, dict(parse_qsl(url.query)))
        response = conn.respond(status, body if isinstance(body, str) else _rest_json(body))
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        return response

    async def _heartbeats(self, conn: ServerConnection) -> None:
        assert self.heartbeat_interval
        while True:
            await anyio.sleep(self.heartbeat_interval)
            text = self.heartbeat_for(conn)
            if text is not None:
                await self.send(conn, text)

    async def _handler(self, conn: ServerConnection) -> None:
        self.connections.add(conn)
        self.connect_count += 1
        try:
            async with anyio.create_task_group() as tg:
                if self.heartbeat_interval:
                    tg.start_soon(self._heartbeats, conn)
                await self.on_connect(conn)
                try:
                    async for message in conn:
                        text = message if isinstance(message, str) else message.decode()
                        self.received.append(text)
                        await self.on_message(conn, text)
                except ConnectionClosed:
                    pass
                tg.cancel_scope.cancel()
        finally:
            self.connections.discard(conn)
            self.subscribers.discard(conn)



_rest_encoder = msgspec.json.Encoder(decimal_format="number")


def _rest_json(body: Any) -> str:
    """JSON text for a REST answer; a Decimal is written as a number with its exact digits."""
    return _rest_encoder.encode(body).decode()
