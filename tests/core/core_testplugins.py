"""In-process test plugins: sources, sinks and a pipeline with knobs the core tests turn.

They are registered with ``build_plugin_host(extra=...)`` (no entry points), exactly as a plugin
module would be; the graph, router and runtime under test are the real ones.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import msgspec

from mdi.channel import BatchChannel
from mdi.components import (
    ConnectorContext,
    ConnectorSpec,
    PipelineContext,
    PipelineSpec,
    SinkContext,
    SinkSpec,
)
from mdi.events import EventBase, SpotMid, Trade
from mdi.hookspecs import hookimpl

INSTANCES: dict[str, Any] = {}


def _trade(venue: str, i: int, now: int) -> Trade:
    return Trade(venue=venue, symbol="BTC-USD", ts_recv=now, trade_id=str(i), price=Decimal("100.25"), size=Decimal("1"), side="buy")


class SourceConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    total: int = 1000  # 0 = endless
    batch: int = 100
    pause: float = 0.0
    crash_after: int = 0  # raise after this many events per run (0 = never)


class Source:
    """Emits numbered trades; counts what the router accepted (``sent``) and how often it ran."""

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.sent = 0
        self.runs = 0

    async def run(self, ctx: ConnectorContext) -> None:
        INSTANCES[ctx.name] = self
        self.runs += 1
        cfg = self.config
        this_run = 0
        while cfg.total == 0 or self.sent < cfg.total:
            n = cfg.batch if cfg.total == 0 else min(cfg.batch, cfg.total - self.sent)
            now = ctx.clock()
            await ctx.emit([_trade(ctx.name, self.sent + i, now) for i in range(n)])
            self.sent += n
            this_run += n
            if cfg.crash_after and this_run >= cfg.crash_after:
                raise RuntimeError(f"{ctx.name} crashed on purpose")
            await anyio.sleep(cfg.pause)
        await anyio.sleep_forever()


class SinkConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    delay: float = 0.0  # seconds per batch (a slow disk)
    watermark: int | None = None
    stuck: bool = False  # never reads until released (a dead best-effort peer)
    max_read: int = 65536  # events taken per read


class MemorySink:
    def __init__(self, config: SinkConfig) -> None:
        self.config = config
        self.events: list[EventBase] = []
        self.release = anyio.Event()
        self.max_depth = 0

    async def open(self, ctx: SinkContext) -> int | None:
        INSTANCES[ctx.name] = self
        self.ctx = ctx
        return self.config.watermark

    async def run(self, inbox: BatchChannel[EventBase]) -> None:
        if self.config.stuck:
            await self.release.wait()
        while (batch := await inbox.get(self.config.max_read)) is not None:
            self.max_depth = max(self.max_depth, inbox.size)
            self.events.extend(batch)
            self.ctx.stats.counters["rows"] += len(batch)
            if self.config.delay:
                await anyio.sleep(self.config.delay)


class EchoConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    every: int = 1  # emit one derived event per ``every`` input batches


class EchoPipeline:
    """Emits one derived event per input batch: shows derived flow and its fairness."""

    def __init__(self, config: EchoConfig) -> None:
        self.config = config
        self.seen = 0
        self.emitted = 0
        self.rejected = 0

    async def run(self, ctx: PipelineContext) -> None:
        INSTANCES[ctx.name] = self
        batches = 0
        while (batch := await ctx.inbox.get()) is not None:
            self.seen += len(batch)
            batches += 1
            if batches % self.config.every:
                continue
            now = ctx.clock()
            ok = ctx.emit([SpotMid(venue="mdi", symbol="BTC-USD", ts_recv=now, ts_bucket=now, mid=Decimal(self.seen), quality="Ok")])
            self.emitted += ok
            self.rejected += not ok


@hookimpl
def mdi_register_connectors(register):  # type: ignore[no-untyped-def]
    for name in ("src", "src2", "crashy"):
        register(ConnectorSpec(name=name, config_type=SourceConfig, factory=Source))


@hookimpl
def mdi_register_sinks(register):  # type: ignore[no-untyped-def]
    register(SinkSpec(name="mem", config_type=SinkConfig, factory=MemorySink, delivery="durable"))
    register(SinkSpec(name="slow", config_type=SinkConfig, factory=MemorySink, delivery="durable"))
    register(SinkSpec(name="cache", config_type=SinkConfig, factory=MemorySink, delivery="best_effort"))


@hookimpl
def mdi_register_pipelines(register):  # type: ignore[no-untyped-def]
    register(PipelineSpec(name="echo", config_type=EchoConfig, factory=EchoPipeline, consumes=frozenset({"trade"}), produces=frozenset({"spot_mid_1s"})))
