"""What a third-party distribution looks like: one module with hook implementations.

``counter`` emits trades with consecutive ids as fast as the router takes them and, when it is
stopped, writes how many events it handed over (``count_file``). ``jsonl`` is a durable sink that
appends ``seq trade_id`` lines and fsyncs on close. Together they let tests check, through a real
``mdi run`` process, that an ordered shutdown loses nothing that was accepted.
"""

from __future__ import annotations

import os
from decimal import Decimal

import anyio
import msgspec

from mdi.channel import BatchChannel
from mdi.components import ConnectorContext, ConnectorSpec, SinkContext, SinkSpec
from mdi.events import EventBase, Trade
from mdi.hookspecs import hookimpl


class CounterConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    batch: int = 100
    count_file: str = ""
    pause: float = 0.0


class Counter:
    def __init__(self, config: CounterConfig) -> None:
        self.config = config
        self.sent = 0

    async def run(self, ctx: ConnectorContext) -> None:
        cfg = self.config
        try:
            while True:
                batch = [
                    Trade(venue="example", symbol="BTC-USD", ts_recv=ctx.clock(), trade_id=str(self.sent + i),
                          price=Decimal("100.5"), size=Decimal("0.001"), side="buy")
                    for i in range(cfg.batch)
                ]
                await ctx.emit(batch)
                self.sent += len(batch)
                ctx.stats.events += len(batch)
                ctx.stats.last_data_ns = ctx.clock()
                ctx.stats.state = "live"
                if cfg.pause:
                    await anyio.sleep(cfg.pause)
        finally:
            if cfg.count_file:
                with open(cfg.count_file, "w") as f:
                    f.write(str(self.sent))


class JsonlConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    path: str
    close_delay: float = 0.0  # a slow final flush, to test forced exit


class JsonlSink:
    def __init__(self, config: JsonlConfig) -> None:
        self.config = config

    async def open(self, ctx: SinkContext) -> int | None:
        self.ctx = ctx
        last = None
        if os.path.exists(self.config.path):
            with open(self.config.path) as f:
                for line in f:
                    last = int(line.split()[0])
        return last

    async def run(self, inbox: BatchChannel[EventBase]) -> None:
        with open(self.config.path, "a") as f:
            async for batch in inbox:
                f.write("".join(f"{e.seq} {getattr(e, 'trade_id', '-')}\n" for e in batch))
                self.ctx.stats.counters["rows"] += len(batch)
            f.flush()
            await anyio.sleep(self.config.close_delay)
            os.fsync(f.fileno())


@hookimpl
def mdi_register_connectors(register):  # type: ignore[no-untyped-def]
    register(ConnectorSpec(name="counter", config_type=CounterConfig, factory=Counter, description="counting source"))


@hookimpl
def mdi_register_sinks(register):  # type: ignore[no-untyped-def]
    register(SinkSpec(name="jsonl", config_type=JsonlConfig, factory=JsonlSink, delivery="durable", description="JSON-lines file"))
