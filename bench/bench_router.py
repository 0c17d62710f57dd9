"""Router throughput: events/s from one source through the real router and runtime to one durable
and one best-effort no-op sink plus one pipeline. Run: ``python -m bench.bench_router``.

The source re-sends pre-built batches so that the figure is the router's, not event construction.
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal

import anyio
import msgspec

from mdi.channel import BatchChannel
from mdi.components import ConnectorContext, ConnectorSpec, PipelineContext, PipelineSpec, SinkContext, SinkSpec
from mdi.config import parse_config
from mdi.events import EventBase, Trade
from mdi.graph import assemble
from mdi.hookspecs import hookimpl
from mdi.plugins import build_plugin_host
from mdi.runtime import Service


class Empty(msgspec.Struct, forbid_unknown_fields=True):
    pass


class Blaster:
    def __init__(self, _: Empty, batch: int = 1000) -> None:
        now = time.time_ns()
        self.batch = [
            Trade(venue="bench", symbol="BTC-USD", ts_recv=now, trade_id=str(i), price=Decimal("68000.5"), size=Decimal("0.01"))
            for i in range(batch)
        ]

    async def run(self, ctx: ConnectorContext) -> None:
        batch = self.batch
        while True:
            await ctx.emit(list(batch))


class NullSink:
    def __init__(self, _: Empty) -> None:
        self.rows = 0

    async def open(self, ctx: SinkContext) -> int | None:
        return None

    async def run(self, inbox: BatchChannel[EventBase]) -> None:
        async for batch in inbox:
            self.rows += len(batch)


class CountPipeline:
    def __init__(self, _: Empty) -> None:
        self.seen = 0

    async def run(self, ctx: PipelineContext) -> None:
        while (batch := await ctx.inbox.get()) is not None:
            self.seen += len(batch)


class BenchPlugin:
    @hookimpl
    def mdi_register_connectors(self, register):  # type: ignore[no-untyped-def]
        register(ConnectorSpec(name="blaster", config_type=Empty, factory=Blaster))

    @hookimpl
    def mdi_register_sinks(self, register):  # type: ignore[no-untyped-def]
        register(SinkSpec(name="durable_null", config_type=Empty, factory=NullSink, delivery="durable"))
        register(SinkSpec(name="best_effort_null", config_type=Empty, factory=NullSink, delivery="best_effort"))

    @hookimpl
    def mdi_register_pipelines(self, register):  # type: ignore[no-untyped-def]
        register(PipelineSpec(name="count", config_type=Empty, factory=CountPipeline, consumes=frozenset({"trade"})))


CONFIG = """
[connectors.blaster]
[pipeline.count]
[sinks.durable_null]
[sinks.best_effort_null]
[http]
enabled = false
"""


async def measure(seconds: float) -> dict[str, float]:
    host = build_plugin_host(load_entrypoints=False, extra=[("bench", BenchPlugin())])
    graph = assemble(parse_config(CONFIG, "bench"), host)
    service = Service(graph)
    async with anyio.create_task_group() as tg:
        await tg.start(service.run)
        await anyio.sleep(0.5)  # warm-up
        start_routed, start = service.stats.router.routed, time.perf_counter()
        cpu0 = time.process_time()
        await anyio.sleep(seconds)
        routed, elapsed = service.stats.router.routed - start_routed, time.perf_counter() - start
        cpu = time.process_time() - cpu0
        service.request_stop()
    durable = graph.sinks[0].component.rows
    best = graph.sinks[1].component.rows
    return {
        "events_per_s": routed / elapsed,
        "cpu_us_per_event": cpu / routed * 1e6,
        "best_effort_drop_ratio": 1 - best / durable if durable else 0.0,
        "pipeline_seen": graph.pipelines[0].component.seen,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    result = anyio.run(measure, args.seconds, backend="asyncio")
    print("router benchmark (1 source -> router -> durable + best-effort no-op sinks + 1 pipeline)")
    print(f"  events/s            {result['events_per_s']:>12,.0f}   (goal >= 500,000)")
    print(f"  CPU us per event    {result['cpu_us_per_event']:>12.3f}")
    print(f"  best-effort drops   {result['best_effort_drop_ratio']:>12.2%}")


if __name__ == "__main__":
    main()
