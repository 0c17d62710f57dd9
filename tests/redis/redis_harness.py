"""Drives a real RedisSink against a real redis-server, the way the runtime would.

The test plays the core: it builds the SinkContext with real stats, owns the task group the sink
runs in, feeds the sink's bounded channel and closes it. Event builders give realistic values
with the decimals written as venues send them (trailing zeros kept), so exactness is checked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio
import msgspec
import redis

from mdi.channel import BatchChannel
from mdi.components import SinkContext
from mdi.events import BBO, EventBase, SmilePoint, SpotMid, VenueMid, IVSurfaceSnapshot
from mdi.stats import SinkStats
from mdi_redis.config import RedisSinkConfig
from mdi_redis.sink import RedisSink

# Fast loops so tests finish quickly; each test overrides what it is about.
FAST: dict[str, Any] = {
    "flush_interval": 0.02,
    "health_interval": 0.0,
    "connect_timeout": 0.5,
    "command_timeout": 0.5,
    "backoff_initial": 0.02,
    "backoff_max": 0.1,
    "final_flush_timeout": 1.0,
}


class SinkHarness:
    def __init__(self, url: str, health: Callable[[], dict[str, Any]] | None = None, **overrides: Any) -> None:
        self.config = RedisSinkConfig(url=url, **{**FAST, **overrides})
        self.stats = SinkStats(name="redis", delivery="best_effort")
        self.ctx = SinkContext(
            name="redis", stats=self.stats, log=logging.getLogger("test.redis"),
            health=health or (lambda: {"state": "running"}),
        )
        self.sink = RedisSink(self.config)
        self.inbox: BatchChannel[EventBase] = BatchChannel("sink:redis", 200_000)

    @property
    def counters(self) -> Any:
        return self.stats.counters

    def put(self, *events: EventBase) -> None:
        assert self.inbox.try_put(list(events))

    async def run_to_end(self) -> None:
        """Open, consume everything already queued, close: a deterministic single flush."""
        assert await self.sink.open(self.ctx) is None
        self.inbox.close()
        with anyio.fail_after(10):
            await self.sink.run(self.inbox)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[SinkHarness]:
        """The sink running in a task group; on exit the inbox closes and the sink finishes."""
        assert await self.sink.open(self.ctx) is None
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.sink.run, self.inbox)
            try:
                yield self
            finally:
                self.inbox.close()

    async def wait_for(self, condition: Callable[[], object], timeout: float = 5.0) -> None:
        """Poll ``condition`` until true; fail with the sink's state if it never becomes true."""
        with anyio.move_on_after(timeout):
            while not condition():
                await anyio.sleep(0.005)
            return
        raise AssertionError(f"condition not met within {timeout}s; stats={self.stats}")


def read_json(client: redis.Redis, key: str, type: Any = Any) -> Any:
    """The JSON value at ``key`` (decoded as ``type``); the key must exist."""
    raw = client.get(key)
    assert isinstance(raw, (str, bytes)), f"{key}: {raw!r}"
    return msgspec.json.decode(raw, type=type)


def stream(client: redis.Redis, key: str, newest_first: bool = False, count: int | None = None) -> list[dict[str, str]]:
    """The field dicts of a stream's entries, oldest first unless ``newest_first``."""
    if newest_first:
        entries = client.xrevrange(key, "+", "-", count=count)
    else:
        entries = client.xrange(key, "-", "+", count=count)
    assert isinstance(entries, list)
    return [{str(k): str(v) for k, v in (fields or {}).items()} for _, fields in entries]


def bbo(venue: str = "kraken", symbol: str = "BTC-USD", seq: int = 1, bid: str = "67000.10",
        ask: str = "67000.20") -> BBO:
    return BBO(venue=venue, symbol=symbol, ts_recv=time.time_ns(), ts_exchange=1_716_800_000_123_000_000,
               seq=seq, bid_px=Decimal(bid), bid_sz=Decimal("0.50000000"), ask_px=Decimal(ask),
               ask_sz=Decimal("1.25"))


def spot_mid(seq: int, second: int = 0, mid: str | None = "67000.150") -> SpotMid:
    bucket = (1_716_800_000 + second) * 1_000_000_000
    return SpotMid(
        venue="mdi", symbol="BTC-USD", ts_recv=time.time_ns(), seq=seq, ts_bucket=bucket,
        mid=None if mid is None else Decimal(mid), quality="Ok" if mid else "Degraded",
        venues_used=["kraken", "coinbase"],
        venue_mids=[VenueMid(venue="kraken", mid=Decimal("67000.15"), age_ms=12, fresh=True),
                    VenueMid(venue="coinbase", mid=Decimal("67000.150"), age_ms=40, fresh=True)],
        divergence_bps=Decimal("0.00"),
    )


EXPIRY_NS = 1_719_561_600_000_000_000  # 2024-06-28T08:00:00Z, a Deribit expiry


def iv_surface(seq: int, expiry_ns: int = EXPIRY_NS) -> IVSurfaceSnapshot:
    return IVSurfaceSnapshot(
        venue="mdi", symbol="BTC", ts_recv=time.time_ns(), seq=seq, ts_bucket=1_716_800_000_000_000_000,
        expiry_ns=expiry_ns, forward=Decimal("68125.5"), atm_iv=Decimal("52.31"),
        lower_strike=Decimal("68000"), lower_iv=Decimal("52.40"), upper_strike=Decimal("69000"),
        upper_iv=Decimal("51.95"),
        smile=[SmilePoint(strike=Decimal("68000"), option_type="C", mark_iv=Decimal("52.40"),
                          bid_iv=Decimal("51.90"), ask_iv=Decimal("53.10"), delta=Decimal("0.52172"))],
        dvol=Decimal("55.12"), quotes_seen=40, quotes_used=12,
    )
