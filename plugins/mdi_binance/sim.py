"""A Binance USD-M futures simulator: the market-stream protocol on 127.0.0.1 for tests,
``mdi demo`` and the benchmark.

What it speaks, in the shapes of recorded live frames:

- Path routing as since 2026-04-23: on ``/market/stream`` (combined: frames wrapped
  ``{"stream":..,"data":..}``) and ``/market/ws`` (raw: the bare event) subscriptions deliver
  data; on any other path they are acknowledged and then **nothing arrives**.
- ``{"method":"SUBSCRIBE","params":[...],"id":N}`` -> ``{"id":N,"result":null}`` (live key
  order), or ``{"error":{"code":2,"msg":"Invalid request: invalid stream"},"id":N}`` when a
  stream is malformed or listed in ``reject``. ``UNSUBSCRIBE`` and ``LIST_SUBSCRIPTIONS`` too;
  bad JSON, a bad id or an unknown method get Binance's error codes 3 / 2.
  ``?streams=a/b`` in the URL subscribes at connect time (no ack, as on Binance).
- Protocol pings every ``heartbeat_interval`` seconds (Binance: 3 min); no pong within
  ``pong_timeout`` closes the connection (Binance: 10 min). ``pongs`` counts answers.
- More than ``max_messages_per_second`` client messages in a sliding second closes the
  connection (code 1008) and counts ``rate_violations``; ``max_messages_seen`` is the most
  messages any one connection sent within a second.

Data: :meth:`demo_frames` yields endless ``markPriceUpdate`` frames (current ``E``, slowly
moving prices, funding every 8 h); :meth:`broadcast` sends a frame to the connections subscribed
to its stream (unwrapped for ``/ws`` clients); :meth:`blast` sends pre-built frames as fast as
the clients take them, many per socket write, for the benchmark.
"""

from __future__ import annotations

import json
import random
import re
import time
import weakref
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import anyio
import msgspec
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from mdi.testing.sim import VenueSimulator

NS = 1_000_000_000
EIGHT_HOURS_MS = 8 * 3600 * 1000
ROUTED_PATHS = ("/market/stream", "/market/ws")
_VALID_STREAM = re.compile(r"^(![a-zA-Z]+@arr|[a-z0-9_]+@[a-zA-Z]+)(@1s|@3s)?$")
_Q8 = Decimal("0.00000001")
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")


@dataclass
class Mark:
    """Moving state of one contract (starting values from recorded live frames)."""

    index: Decimal
    premium: Decimal
    settle_gap: Decimal
    funding: Decimal


STARTS: dict[str, Mark] = {
    # unattributed probable-live 2026-10 frame: p 84756.35776087, P 84830.21202428, i 84788.51847826
    "BTCUSDT": Mark(Decimal("84788.51847826"), Decimal("-32.16071739"), Decimal("41.69354602"), Decimal("-0.00005353")),
    # crypto-msg-parser live 2021 !markPrice@arr frame
    "ETHUSDT": Mark(Decimal("1978.08197502"), Decimal("3.07506918"), Decimal("-3.28639592"), Decimal("0.00059142")),
}


class _Combined(msgspec.Struct):
    stream: str
    data: msgspec.Raw


_combined = msgspec.json.Decoder(_Combined)


def next_funding_ms(now_ms: int) -> int:
    """Funding is every 8 hours from 00:00 UTC."""
    return (now_ms // EIGHT_HOURS_MS + 1) * EIGHT_HOURS_MS


class BinanceSimulator(VenueSimulator):
    venue = "binance"
    path = "/market/stream"
    heartbeat_interval: float | None = 180.0

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        symbols: tuple[str, ...] = ("BTCUSDT",),
        stream: str = "markPrice@1s",
        heartbeat_interval: float | None = 180.0,
        pong_timeout: float = 600.0,
        max_messages_per_second: int = 10,
        seed: int = 7,
    ) -> None:
        super().__init__(host, port)
        self.symbols = symbols
        self.stream = stream
        self.heartbeat_interval = heartbeat_interval
        self.pong_timeout = pong_timeout
        self.max_messages_per_second = max_messages_per_second
        # Weak keys: a closed connection's state goes with it (demos reconnect for hours).
        self.streams: weakref.WeakKeyDictionary[ServerConnection, set[str]] = weakref.WeakKeyDictionary()
        self.requests: list[dict[str, Any]] = []
        self.pongs = 0
        self.pong_timeouts = 0
        self.rate_violations = 0
        self.max_messages_seen = 0
        self.marks = {s: Mark(**vars(STARTS.get(s, Mark(Decimal("100"), Decimal("0"), Decimal("0"), Decimal("0.0001"))))) for s in symbols}
        self._recent: weakref.WeakKeyDictionary[ServerConnection, deque[int]] = weakref.WeakKeyDictionary()
        self._rng = random.Random(seed)
        self._pool: list[bytes] = []
        self._raw_pool: list[bytes] = []

    def url_for(self, path: str) -> str:
        """This simulator at another path (e.g. an unrouted one, to test silence)."""
        return f"ws://{self.host}:{self.port}{path}"

    def sim_url(self) -> str:
        return self.url_for("/market/stream")

    # ----- connection and requests ----------------------------------------------------
    @staticmethod
    def _path(conn: ServerConnection) -> str:
        return urlsplit(conn.request.path if conn.request else "/").path

    def routed(self, conn: ServerConnection) -> bool:
        return self._path(conn) in ROUTED_PATHS

    def raw(self, conn: ServerConnection) -> bool:
        return self._path(conn) == "/market/ws"

    async def on_connect(self, conn: ServerConnection) -> None:
        self.streams[conn] = set()
        self._recent[conn] = deque()
        query = parse_qs(urlsplit(conn.request.path if conn.request else "").query)
        for streams in query.get("streams", []):
            self._subscribe(conn, [s for s in streams.split("/") if s])

    def _subscribe(self, conn: ServerConnection, streams: list[str]) -> None:
        self.streams.setdefault(conn, set()).update(streams)
        if self.routed(conn):
            self.subscribers.add(conn)

    async def on_message(self, conn: ServerConnection, text: str) -> None:
        if conn.protocol.state is not State.OPEN:  # cut off already: what is still queued is void
            return
        if not self._within_rate(conn):
            self.rate_violations += 1
            await conn.close(1008, "Too many requests")
            return
        try:
            request = json.loads(text)
        except ValueError:
            await self._reply(conn, {"error": {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}, "id": None})
            return
        self.requests.append(request)
        await self._reply(conn, self._answer(conn, request))

    def _within_rate(self, conn: ServerConnection) -> bool:
        now = time.monotonic_ns()
        recent = self._recent.setdefault(conn, deque())
        recent.append(now)
        while now - recent[0] >= NS:
            recent.popleft()
        self.max_messages_seen = max(self.max_messages_seen, len(recent))
        return len(recent) <= self.max_messages_per_second

    def _answer(self, conn: ServerConnection, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict) or "method" not in request:
            return {"error": {"code": 2, "msg": "Invalid request: missing field `method` at line 1 column 1"}, "id": None}
        request_id = request.get("id")
        if isinstance(request_id, bool) or not isinstance(request_id, int) or request_id < 0:
            return {"error": {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}, "id": None}
        method, params = request["method"], request.get("params", [])
        if method not in METHODS:
            return {"error": {"code": 2, "msg": f"Invalid request: unknown variant `{method}`"}, "id": request_id}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(self.streams.get(conn, ())), "id": request_id}
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            return {"result": False if method == "GET_PROPERTY" else None, "id": request_id}
        if not isinstance(params, list) or not all(isinstance(p, str) and _VALID_STREAM.match(p) and p not in self.reject for p in params):
            return {"error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": request_id}
        if method == "SUBSCRIBE":
            self._subscribe(conn, params)
        else:
            self.streams.get(conn, set()).difference_update(params)
        return {"id": request_id, "result": None}

    async def _reply(self, conn: ServerConnection, body: dict[str, Any]) -> None:
        await self.send(conn, json.dumps(body, separators=(",", ":")))

    async def _heartbeats(self, conn: ServerConnection) -> None:
        """Binance keeps connections alive with protocol pings, not text heartbeats."""
        assert self.heartbeat_interval
        while True:
            await anyio.sleep(self.heartbeat_interval)
            try:
                pong = await conn.ping()
                with anyio.move_on_after(self.pong_timeout) as waited:
                    await pong
            except ConnectionClosed:
                return
            if waited.cancelled_caught:
                self.pong_timeouts += 1
                await conn.close(1008, "pong timeout")
                return
            self.pongs += 1

    # ----- data ------------------------------------------------------------------------
    def mark_frame(self, symbol: str, now_ms: int | None = None) -> str:
        """One combined-stream ``markPriceUpdate`` frame with the next prices of ``symbol``,
        keys in the live order (``p, ap, P, i, r, T``)."""
        m = self.marks[symbol]
        step = Decimal(self._rng.gauss(0, 0.00005)).quantize(Decimal("0.000001"))
        m.index = (m.index * (1 + step)).quantize(_Q8)
        noise = Decimal(self._rng.gauss(0, 0.00001)) * m.index  # ~1 USD on BTC
        m.premium = (m.premium * Decimal("0.98") + noise).quantize(_Q8)
        m.funding = (m.funding + Decimal(self._rng.gauss(0, 0.0000002)).quantize(_Q8)).quantize(_Q8)
        now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
        mark = m.index + m.premium
        return (
            f'{{"stream":"{symbol.lower()}@{self.stream}","data":{{"e":"markPriceUpdate","E":{now},"s":"{symbol}",'
            f'"p":"{mark:f}","ap":"{mark:f}","P":"{m.index + m.settle_gap:f}","i":"{m.index:f}",'
            f'"r":"{m.funding:f}","T":{next_funding_ms(now)}}}}}'
        )

    def demo_frames(self) -> Iterator[str]:
        while True:
            for symbol in self.symbols:
                yield self.mark_frame(symbol)

    def _unwrap(self, text: str | bytes) -> tuple[str | None, str | bytes]:
        """(stream name, raw-stream payload) of a combined frame; (None, text) for others."""
        try:
            combined = _combined.decode(text)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None, text
        return combined.stream, bytes(combined.data).decode()

    async def broadcast(self, text: str | bytes) -> int:
        """Send a frame to every connection subscribed to its stream (nothing while stalled);
        ``/ws`` clients get the bare event. Frames without a stream go to every subscriber."""
        if self.stalled:
            return 0
        stream, raw = self._unwrap(text)
        sent = 0
        for conn in list(self.subscribers):
            if stream is not None and stream not in self.streams.get(conn, ()):
                continue
            try:
                await conn.send(raw if self.raw(conn) else text)
                sent += 1
            except ConnectionClosed:
                self.subscribers.discard(conn)
        return sent

    def blast_pool(self, size: int = 4096) -> tuple[list[bytes], list[bytes]]:
        """Pre-built (combined, raw) frames for :meth:`blast`; built once, ``E`` = build time."""
        if len(self._pool) < size:
            frames = self.demo_frames()
            self._pool = [next(frames).encode() for _ in range(size)]
            self._raw_pool = [bytes(_combined.decode(f).data) for f in self._pool]
        return self._pool, self._raw_pool

    async def blast(self, count: int, batch: int = 512) -> int:
        """Send ``count`` frames to every subscriber as fast as it takes them: ``batch`` frames
        per socket write, with the server's flow control. Returns frames sent per connection."""
        combined, raw = self.blast_pool()
        size = len(combined)
        sent = 0
        while sent < count and self.subscribers and not self.stalled:
            picks = [(sent + k) % size for k in range(min(batch, count - sent))]
            for conn in list(self.subscribers):
                pool = raw if self.raw(conn) else combined
                await self._write_batch(conn, [pool[i] for i in picks])
            sent += len(picks)
        return sent

    async def _write_batch(self, conn: ServerConnection, chunk: list[bytes]) -> None:
        try:
            async with conn.send_context():
                for frame in chunk:
                    conn.protocol.send_text(frame)
        except ConnectionClosed:
            self.subscribers.discard(conn)
