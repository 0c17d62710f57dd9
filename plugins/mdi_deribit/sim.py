"""A Deribit JSON-RPC v2 server on loopback: the peer the connector's tests and ``mdi demo`` use.

It answers ``public/set_heartbeat``, ``public/test``, ``public/get_instruments``,
``public/get_index_price``, ``public/subscribe`` and ``public/unsubscribe`` like Deribit does
(subscribe results in a different order than requested, unknown channels silently left out,
``.raw`` tickers refused with error 13778, invalid JSON answered with error 11050 and no id),
sends ``test_request`` heartbeats after ``set_heartbeat`` and closes a client that does not
answer with ``public/test`` in time (close code 4000, as Deribit does). Data goes only to the
clients subscribed to its channel.

Knobs beyond the base class: ``heartbeat_every`` (seconds between test requests, overriding the
interval the client asked for, so tests need not wait 10 s), ``test_timeout``,
``subscribe_error`` (answer the next subscribe with this ``(code, message)`` error), ``reject``
(channels to leave out of subscribe results), ``market`` (instruments, index, DVOL).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import anyio
import anyio.lowlevel
from mdi.testing.sim import VenueSimulator
from websockets.asyncio.server import ServerConnection

from mdi_deribit.simmarket import DVOL_INDEXES, NOTIFICATION_PREFIX, SimMarket

TEST_REQUEST = '{"params":{"type":"test_request"},"method":"heartbeat","jsonrpc":"2.0"}'
TICKER_INTERVALS = ("100ms", "agg2", "raw")
Result = tuple[Any, dict[str, Any] | None]  # (result, error)


@dataclass
class SimClient:
    """Per-connection state: subscribed channels and the heartbeat handshake."""

    channels: set[str] = field(default_factory=set)
    heartbeat: float | None = None
    heartbeat_set: anyio.Event = field(default_factory=anyio.Event)
    answered: anyio.Event = field(default_factory=anyio.Event)


def _error(code: int, message: str, data: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, **({"data": data} if data is not None else {})}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class DeribitSimulator(VenueSimulator):
    venue = "deribit"
    path = "/ws/api/v2"
    heartbeat_interval = 0.05  # non-zero so the base starts :meth:`_heartbeats` per connection

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, seed: int = 7, scale: int = 1) -> None:
        super().__init__(host, port)
        self.market = SimMarket(_now_ms(), seed=seed, scale=scale)
        self.clients: dict[ServerConnection, SimClient] = {}
        self.heartbeat_every: float | None = None
        self.test_timeout = 10.0
        self.subscribe_error: tuple[int, str] | None = None
        self.heartbeat_closes = 0
        self.requests: Counter[str] = Counter()
        self._methods: dict[str, Callable[[SimClient, dict[str, Any]], Result]] = {
            "public/set_heartbeat": self._set_heartbeat,
            "public/disable_heartbeat": self._disable_heartbeat,
            "public/test": self._test,
            "public/get_instruments": self._get_instruments,
            "public/get_index_price": self._get_index_price,
            "public/subscribe": self._subscribe,
            "public/unsubscribe": self._unsubscribe,
        }

    # ----- queries for tests -------------------------------------------------------------
    def client(self, conn: ServerConnection) -> SimClient:
        return self.clients.setdefault(conn, SimClient())

    def channels(self) -> set[str]:
        """Every channel some connected client is subscribed to."""
        return set().union(*(c.channels for c in self.clients.values()))

    # ----- requests ----------------------------------------------------------------------
    async def on_message(self, conn: ServerConnection, text: str) -> None:
        try:
            message = json.loads(text)
            method, request_id, params = message["method"], message.get("id"), message.get("params") or {}
        except (ValueError, KeyError, TypeError):
            await self.send(conn, self._reply(None, None, _error(11050, "bad_request", "invalid json")))
            return
        self.requests[method] += 1
        handler = self._methods.get(method)
        error: dict[str, Any] | None
        if handler is None:
            result, error = None, _error(-32601, "Method not found")
        else:
            result, error = handler(self.client(conn), params)
        if method == "public/subscribe" and error is None:
            self.subscribers.add(conn)
        await self.send(conn, self._reply(request_id, result, error))

    @staticmethod
    def _reply(request_id: int | None, result: Any, error: dict[str, Any] | None) -> str:
        us = time.time_ns() // 1000
        body: dict[str, Any] = {"jsonrpc": "2.0"}
        if request_id is not None:
            body["id"] = request_id
        body.update({"error": error} if error is not None else {"result": result})
        body.update(usIn=us - 40, usOut=us, usDiff=40, testnet=False)
        return json.dumps(body, separators=(",", ":"))

    def _set_heartbeat(self, client: SimClient, params: dict[str, Any]) -> Result:
        interval = params.get("interval")
        if not isinstance(interval, (int, float)) or not 10 <= interval <= 3600:
            return None, _error(-32602, "Invalid params", {"reason": "must be in range 10..3600", "param": "interval"})
        client.heartbeat = float(interval)
        client.heartbeat_set.set()
        return "ok", None

    def _disable_heartbeat(self, client: SimClient, params: dict[str, Any]) -> Result:
        client.heartbeat = None
        client.heartbeat_set = anyio.Event()
        return "ok", None

    def _test(self, client: SimClient, params: dict[str, Any]) -> Result:
        client.answered.set()
        return {"version": "1.2.26"}, None

    def _get_instruments(self, client: SimClient, params: dict[str, Any]) -> Result:
        if params.get("currency") != self.market.currency or params.get("kind", "option") != "option":
            return [], None
        if params.get("expired", False):
            return [], None
        return [self.market.instrument(o) for o in self.market.listed(_now_ms())], None

    def _get_index_price(self, client: SimClient, params: dict[str, Any]) -> Result:
        if params.get("index_name") not in DVOL_INDEXES:
            return None, _error(-32602, "Invalid params", {"reason": "wrong format", "param": "index_name"})
        index = round(self.market.index_price, 2)
        return {"index_price": index, "estimated_delivery_price": index}, None

    def _subscribe(self, client: SimClient, params: dict[str, Any]) -> Result:
        channels = [c for c in params.get("channels", []) if isinstance(c, str)]
        if self.subscribe_error is not None:
            (code, message), self.subscribe_error = self.subscribe_error, None
            return None, _error(code, message)
        if any(c.startswith("ticker.") and c.endswith(".raw") for c in channels):
            return None, _error(13778, "raw_subscriptions_not_available_for_unauthorized")
        granted = [c for c in channels if self._known(c) and c not in self.reject]
        client.channels.update(granted)
        return sorted(granted), None  # Deribit's order differs from the request's

    def _unsubscribe(self, client: SimClient, params: dict[str, Any]) -> Result:
        removed = [c for c in params.get("channels", []) if c in client.channels]
        client.channels.difference_update(removed)
        return sorted(removed), None

    def _known(self, channel: str) -> bool:
        kind, _, rest = channel.partition(".")
        if kind == "deribit_volatility_index":
            return rest in DVOL_INDEXES
        name, _, interval = rest.rpartition(".")
        return kind == "ticker" and name in self.market.options and interval in TICKER_INTERVALS

    # ----- heartbeats --------------------------------------------------------------------
    async def _heartbeats(self, conn: ServerConnection) -> None:
        """Deribit's heartbeat is per connection and starts with ``public/set_heartbeat``, so this
        replaces the base class's fixed-interval loop (the base starts it for every connection)."""
        client = self.client(conn)
        try:
            while True:
                await client.heartbeat_set.wait()
                await anyio.sleep(self.heartbeat_every or client.heartbeat or 10.0)
                if client.heartbeat is None:
                    continue
                client.answered = anyio.Event()
                await self.send(conn, TEST_REQUEST)
                with anyio.move_on_after(self.test_timeout):
                    await client.answered.wait()
                if not client.answered.is_set():
                    self.heartbeat_closes += 1
                    await conn.close(4000, "heartbeat close")
                    return
        finally:
            self.clients.pop(conn, None)

    # ----- data --------------------------------------------------------------------------
    def frame(self, channel: str, now_ms: int) -> str:
        """The next data frame of ``channel`` (a ticker or DVOL channel the simulator knows)."""
        kind, _, rest = channel.partition(".")
        if kind == "deribit_volatility_index":
            return self.market.dvol_frame(rest, now_ms)
        return self.market.ticker_frame(channel, rest.rpartition(".")[0], now_ms)

    async def publish_round(self) -> int:
        """Move the market one step and send one frame per subscribed channel; frames sent."""
        self.market.step()
        now = _now_ms()
        sent = 0
        for channel in sorted(self.channels()):
            sent += await self.broadcast(self.frame(channel, now))
        return sent

    async def run_feed(self, interval: float = 0.1) -> None:
        """Publish a round every ``interval`` seconds until cancelled (tests run it in a task)."""
        while True:
            await self.publish_round()
            await anyio.sleep(interval)

    def demo_frames(self) -> Iterator[str]:
        """Endless frames for the channels clients follow, one market step per round."""
        while True:
            self.market.step()
            channels = sorted(self.channels()) or [f"deribit_volatility_index.{DVOL_INDEXES[0]}"]
            for channel in channels:
                yield self.frame(channel, _now_ms())

    async def broadcast(self, text: str | bytes) -> int:
        """Send a notification only to clients subscribed to its channel (Deribit routes by
        channel); other frames go to every subscriber. Nothing while ``stalled``."""
        if self.stalled:
            await anyio.lowlevel.checkpoint()
            return 0
        channel = _channel_of(text)
        sent = 0
        for conn in list(self.subscribers):
            client = self.clients.get(conn)
            if channel is not None and (client is None or channel not in client.channels):
                continue
            await self.send(conn, text)
            sent += 1
        if not sent:
            await anyio.lowlevel.checkpoint()  # keep an endless replay from starving the loop
        return sent


def _channel_of(text: str | bytes) -> str | None:
    """The channel of a notification: sliced when it starts the way this simulator writes
    notifications, else parsed (recorded frames in other key orders); None for other frames."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if text.startswith(NOTIFICATION_PREFIX):
        start = len(NOTIFICATION_PREFIX)
        return text[start : text.index('"', start)]
    try:
        channel = json.loads(text)["params"]["channel"]
    except (ValueError, KeyError, TypeError):
        return None
    return channel if isinstance(channel, str) else None
