"""Redis sink: events/s offered vs Redis commands written, against a real redis-server.

Run from the repository root: ``python -m bench.bench_redis`` (``--help`` for sizes).

Three figures:

1. *burst*: 1M BBOs over 4 venues pushed into the sink's channel as fast as the sink takes them
   (blocking ``put``: nothing dropped), with fresh ``ts_recv`` per batch; building the events is
   timed separately so the sink's own rate can be read off.
2. *paced*: a steady offered rate (default 20k events/s) for a few seconds: commands written per
   second track the number of keys times the flush rate, not the event rate.
3. *baseline*: what writing every event would cost, one pipelined ``SET`` per event (no
   coalescing), on a smaller sample.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio

try:
    import mdi_redis  # noqa: F401
except ModuleNotFoundError:  # an editable install made before plugins/mdi_redis existed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from mdi.channel import BatchChannel
from mdi.components import SinkContext
from mdi.events import BBO, EventBase
from mdi.stats import SinkStats
from mdi.testing.redis_server import RedisServer
from mdi_redis.config import RedisSinkConfig
from mdi_redis.sink import RedisSink

VENUES = ("kraken", "coinbase", "binance", "bitstamp")
BIDS = [Decimal(f"67{i:03d}.10") for i in range(1000)]
SIZE = Decimal("0.50000000")


def make_batch(seq: int, size: int, venues: tuple[str, ...]) -> list[EventBase]:
    """``size`` BBOs round-robin over ``venues``, stamped now (as the router would pass them)."""
    now = time.time_ns()
    nv = len(venues)
    return [
        BBO(venue=venues[i % nv], symbol="BTC-USD", ts_recv=now, seq=seq + i, bid_px=BIDS[i % 1000],
            bid_sz=SIZE, ask_px=BIDS[(i + 1) % 1000], ask_sz=SIZE)
        for i in range(size)
    ]


def build_time(events: int, batch: int, venues: tuple[str, ...]) -> float:
    start = time.perf_counter()
    for seq in range(0, events, batch):
        make_batch(seq, batch, venues)
    return time.perf_counter() - start


def new_sink(url: str, flush_interval: float) -> tuple[RedisSink, SinkContext]:
    config = RedisSinkConfig(url=url, flush_interval=flush_interval)
    ctx = SinkContext(name="redis", stats=SinkStats("redis", "best_effort"),
                      log=logging.getLogger("bench.redis"), health=lambda: {"state": "running"})
    return RedisSink(config), ctx


def commands(server: RedisServer) -> dict[str, int]:
    stats = server.client().info("commandstats")
    return {name.removeprefix("cmdstat_"): stats[f"cmdstat_{name}"]["calls"]
            for name in ("set", "xadd", "publish") if f"cmdstat_{name}" in stats}


async def burst(server: RedisServer, events: int, batch: int, flush_interval: float) -> dict[str, Any]:
    server.client().config_resetstat()
    sink, ctx = new_sink(server.url, flush_interval)
    await sink.open(ctx)
    inbox: BatchChannel[EventBase] = BatchChannel("sink:redis", 200_000)
    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        tg.start_soon(sink.run, inbox)
        for seq in range(0, events, batch):
            await inbox.put(make_batch(seq, batch, VENUES))
        inbox.close()
    elapsed = time.perf_counter() - start
    return {"elapsed": elapsed, "stats": ctx.stats, "commands": commands(server)}


async def paced(server: RedisServer, rate: int, seconds: float, flush_interval: float) -> dict[str, Any]:
    """Offer ``rate`` events/s in 10 ms slices, the way a live feed arrives."""
    server.client().config_resetstat()
    sink, ctx = new_sink(server.url, flush_interval)
    await sink.open(ctx)
    inbox: BatchChannel[EventBase] = BatchChannel("sink:redis", 200_000)
    per_slice = max(1, rate // 100)
    offered = 0
    async with anyio.create_task_group() as tg:
        tg.start_soon(sink.run, inbox)
        start = time.perf_counter()
        while (now := time.perf_counter() - start) < seconds:
            due = int(now * rate) - offered
            if due > 0:
                n = min(due, per_slice * 4)
                inbox.try_put(make_batch(offered, n, VENUES))
                offered += n
            await anyio.sleep(0.01)
        inbox.close()
    return {"offered": offered, "seconds": seconds, "stats": ctx.stats, "commands": commands(server)}


def baseline(server: RedisServer, events: int, chunk: int = 1000) -> float:
    """Events/s if every BBO were its own pipelined SET (what coalescing avoids)."""
    import msgspec

    encode = msgspec.json.Encoder(decimal_format="string").encode
    client = server.client()
    start = time.perf_counter()
    for seq in range(0, events, chunk):
        pipe = client.pipeline(transaction=False)
        for event in make_batch(seq, chunk, VENUES):
            pipe.set(f"md:v1:spot_bbo:{event.venue}:{event.symbol}", encode(event))
        pipe.execute()
    return events / (time.perf_counter() - start)


def report_burst(result: dict[str, Any], events: int, batch: int, build: float, flush_interval: float) -> None:
    stats: SinkStats = result["stats"]
    c, cmds = stats.counters, result["commands"]
    elapsed = result["elapsed"]
    total = sum(cmds.values())
    print(f"burst: {events:,} BBOs over {len(VENUES)} venues, batches of {batch}, "
          f"flush_interval {flush_interval * 1000:.0f} ms, pubsub on")
    print(f"  offered+consumed  {events / elapsed:12,.0f} events/s  ({elapsed:.2f} s, "
          f"of which building events {build:.2f} s)")
    print(f"  sink only         {events / max(elapsed - build, 1e-9):12,.0f} events/s")
    print(f"  redis commands    {total:12,}  ({', '.join(f'{k.upper()} {v}' for k, v in cmds.items())}) "
          f"in {c['flushes']} round trips")
    print(f"  events/command    {events / max(total, 1):12,.0f}  (coalesced {c['coalesced']:,}, "
          f"dropped {c['dropped']})")
    print(f"  receive->written  p50 <= {stats.latency.quantile(0.5) * 1000:.1f} ms, "
          f"p99 <= {stats.latency.quantile(0.99) * 1000:.1f} ms (bucket bounds)")


def report_paced(result: dict[str, Any], flush_interval: float) -> None:
    stats: SinkStats = result["stats"]
    seconds, offered, cmds = result["seconds"], result["offered"], result["commands"]
    total = sum(cmds.values())
    print(f"paced: {offered / seconds:,.0f} events/s offered for {seconds:.0f} s over {len(VENUES)} keys")
    print(f"  redis commands    {total / seconds:12,.1f} /s  ({', '.join(f'{k.upper()} {v}' for k, v in cmds.items())});"
          f" flushes {stats.counters['flushes'] / seconds:.1f}/s (interval {flush_interval * 1000:.0f} ms)")
    print(f"  receive->written  p50 <= {stats.latency.quantile(0.5) * 1000:.1f} ms, "
          f"p99 <= {stats.latency.quantile(0.99) * 1000:.1f} ms; dropped {stats.counters['dropped']}")


async def main_async(args: argparse.Namespace) -> None:
    with RedisServer() as server:
        build = build_time(args.events, args.batch, VENUES)
        result = await burst(server, args.events, args.batch, args.flush_interval)
        report_burst(result, args.events, args.batch, build, args.flush_interval)
        report_paced(await paced(server, args.rate, args.seconds, args.flush_interval), args.flush_interval)
        rate = baseline(server, args.baseline_events)
        print(f"baseline: one pipelined SET per event (no coalescing): {rate:,.0f} events/s "
              f"on {args.baseline_events:,} events")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_redis", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--flush-interval", type=float, default=0.05)
    parser.add_argument("--rate", type=int, default=20_000, help="paced: events/s offered")
    parser.add_argument("--seconds", type=float, default=3.0, help="paced: duration")
    parser.add_argument("--baseline-events", type=int, default=100_000)
    args = parser.parse_args()
    anyio.run(main_async, args)


if __name__ == "__main__":
    main()
