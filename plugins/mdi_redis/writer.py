"""One pipelined round trip per flush: SETs, XADDs, PUBLISHes and the health record together.

An awaited single command costs ~125 µs, a pipelined one ~10 µs (DESIGN.md), so everything due in
a flush goes out as one ``transaction=False`` pipeline. The client never retries on its own
(redis-py would otherwise sleep through up to 10 retries inside our loop): the sink decides when
to try again, with :class:`Backoff`. Every round trip is bounded by ``connect_timeout +
command_timeout``, so a hung Redis cannot stall the consume loop for longer than that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import msgspec
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from mdi.events import EventBase, SpotMid
from mdi_redis.config import RedisSinkConfig

# What a failed round trip raises: redis-py's own errors (connection refused, auth, timeouts,
# TLS) and OSError, which includes the builtin TimeoutError from our own deadline.
WRITE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)

_value_encoder = msgspec.json.Encoder(decimal_format="string")


class Update(msgspec.Struct, frozen=True):
    """The Pub/Sub notification: which key changed and the router seq of its new value."""

    key: str
    seq: int


def redact(url: str) -> str:
    """The URL with its password replaced by ``***``, fit for logs and /health."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class Backoff:
    """Capped exponential delay between attempts while Redis is unreachable (monotonic s)."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self.failures = 0
        self.retry_at = 0.0

    def ready(self, now: float) -> bool:
        return now >= self.retry_at

    def failed(self, now: float) -> float:
        delay = min(self.maximum, self.initial * 2.0 ** min(self.failures, 32))
        self.failures += 1
        self.retry_at = now + delay
        return delay

    def reset(self) -> None:
        self.failures = 0
        self.retry_at = 0.0


@dataclass
class Written:
    """What one successful round trip wrote, for the counters."""

    sets: int = 0
    stream_adds: int = 0
    publishes: int = 0
    health: int = 0
    command_errors: list[str] = field(default_factory=list)

    @property
    def commands(self) -> int:
        return self.sets + self.stream_adds + self.publishes + self.health


class RedisWriter:
    """Owns the redis-py client; turns a flush's contents into one pipeline."""

    def __init__(self, config: RedisSinkConfig, key_prefix: str | None = None) -> None:
        self.config = config
        self.client: aioredis.Redis | RedisCluster | None = None
        self.channel = f"{config.prefix}:updates"  # not a key: one channel for every instance
        self.use_prefix(key_prefix or config.prefix)
        self._key_ttl_ms = int(config.key_ttl * 1000) or None
        self._health_ttl_ms = max(1000, int(config.health_interval * 3000))
        self._deadline = config.connect_timeout + config.command_timeout

    def use_prefix(self, key_prefix: str) -> None:
        """The key prefix (see :func:`mdi_redis.keys.key_prefix`); the channel keeps the config's."""
        self.stream_key = f"{key_prefix}:spot_mid:window"
        self.health_key = f"{key_prefix}:health"

    def connect(self) -> None:
        """Build the client (no I/O: redis-py connects lazily, on the first command)."""
        cfg = self.config
        if cfg.cluster:
            self.client = cluster_client(cfg)
            return
        self.client = aioredis.from_url(
            cfg.url,
            socket_connect_timeout=cfg.connect_timeout,
            socket_timeout=cfg.command_timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
            client_name="mdi-redis-sink",
        )

    async def ping(self, timeout: float | None = None) -> None:
        """One PING (connecting first if needed) within ``timeout``, by default the round-trip
        deadline: the cheapest 'is Redis there?'."""
        client = self._require_client()
        with anyio.fail_after(timeout or self._deadline):
            await client.ping()  # type: ignore[misc]  # a cluster client pings every node

    async def write(
        self,
        latest: Mapping[str, EventBase],
        window: Iterable[SpotMid],
        health: bytes | None,
    ) -> Written:
        """Send everything in one round trip. Raises one of :data:`WRITE_ERRORS` when Redis is
        unreachable (nothing can be assumed written); per-command errors (e.g. a key of the wrong
        type) are returned in ``command_errors`` and not retried: retrying cannot fix them."""
        pipe = self._require_client().pipeline(transaction=False)
        written = Written()
        written.sets = self._queue_latest(pipe, latest)
        written.stream_adds = self._queue_window(pipe, window)
        if self.config.pubsub:
            written.publishes = self._queue_updates(pipe, latest)
        if health is not None:
            pipe.set(self.health_key, health, px=self._health_ttl_ms)
            written.health = 1
        with anyio.fail_after(self._deadline):
            results = await pipe.execute(raise_on_error=False)  # type: ignore[union-attr]
        written.command_errors = [describe(r) for r in results if isinstance(r, Exception)]
        return written

    async def aclose(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            await client.aclose()

    def _queue_latest(self, pipe: Any, latest: Mapping[str, EventBase]) -> int:
        encode, px = _value_encoder.encode, self._key_ttl_ms
        for key, event in latest.items():
            pipe.set(key, encode(event), px=px)
        return len(latest)

    def _queue_window(self, pipe: Any, window: Iterable[SpotMid]) -> int:
        cfg, n = self.config, 0
        for mid in window:
            fields = {
                "seq": mid.seq,
                "ts_bucket": mid.ts_bucket,
                "mid": "" if mid.mid is None else str(mid.mid),
                "quality": mid.quality,
            }
            pipe.xadd(self.stream_key, fields, maxlen=cfg.window_len, approximate=not cfg.window_exact)
            n += 1
        return n

    def _queue_updates(self, pipe: Any, latest: Mapping[str, EventBase]) -> int:
        encode, channel = _value_encoder.encode, self.channel
        for key, event in latest.items():
            # execute_command: a cluster pipeline refuses pipe.publish(); PUBLISH itself is
            # delivered to subscribers on every node by the cluster bus (SCALEOUT.md).
            pipe.execute_command("PUBLISH", channel, encode(Update(key, event.seq)))
        return len(latest)

    async def reset(self) -> None:
        """After a failed round trip to a cluster: drop the client, so the next attempt builds
        a new one that reads the slot map afresh (a replica may have been promoted). Without
        this, a client that does not retry by itself keeps talking to the dead master."""
        if self.config.cluster and self.client is not None:
            client, self.client = self.client, None
            try:
                with anyio.move_on_after(self.config.command_timeout):
                    await client.aclose()
            except WRITE_ERRORS:
                pass
            self.connect()

    def _require_client(self) -> aioredis.Redis | RedisCluster:
        if self.client is None:
            raise RuntimeError("RedisWriter.connect() was not called (sink not opened)")
        return self.client


def cluster_client(cfg: RedisSinkConfig) -> RedisCluster:
    """A cluster client from the seed URL. No retries inside redis-py (the sink owns them, and
    :meth:`RedisWriter.reset` rebuilds the client after a failure, which re-reads the slot map).
    ``require_full_coverage=False``: keys in slots that still have a master keep being written
    while another shard fails over."""
    return RedisCluster.from_url(
        cfg.url,
        socket_connect_timeout=cfg.connect_timeout,
        socket_timeout=cfg.command_timeout,
        retry=Retry(NoBackoff(), 0),
        require_full_coverage=False,
        client_name="mdi-redis-sink",
    )
