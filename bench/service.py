"""The benchmark's mdi process: ``mdi run`` on a config, plus a line-based control channel.

Run by ``python -m bench`` as ``python -m bench.service CONFIG``. The graph is assembled and run
by the same code as ``mdi run`` (:func:`mdi.cli.run_cmd.run_service`: signal handling, ordered
shutdown, /metrics and /health), with one in-process plugin added: the bench-only
``slow_parquet`` sink (:mod:`bench.slowdisk`). Once the service is up, the latency histograms of
the router and of every sink keep a uniform sample of their values
(:meth:`mdi.stats.Histogram.keep_samples`), so percentiles are exact, not bucket bounds.

Protocol: one JSON line on stdout when ready (``{"ready": true, ...}``), then one command per
stdin line, each answered by one JSON line:

- ``snap``: the counters, states and latency percentiles (since the last ``mark``);
- ``counts``: the same without the percentiles (cheap: for a timeline during the window);
- ``mark``: restart the latency samples (a measurement window begins), then ``snap``;
- ``profile`` / ``profile-dump PATH``: cProfile the event loop's thread from now on / stop and
  write the stats to PATH (a profiled run is for finding hot spots: its figures are not valid);
- ``stop``: begin the ordered shutdown (as SIGTERM does).

When the service has stopped (SIGTERM, SIGINT or ``stop``) a last line ``{"final": snap}``
follows, with the exit code ``mdi run`` would have used.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import sys
from typing import Any

import anyio
import pyarrow as pa
from anyio.abc import TaskGroup

from bench.slowdisk import SlowDiskPlugin
from mdi.cli.run_cmd import configure_logging, run_service
from mdi.config import load_config
from mdi.graph import Graph, assemble
from mdi.plugins import build_plugin_host
from mdi.runtime import Service
from mdi.stats import Histogram, ServiceStats

SAMPLE_CAPACITY = 50_000  # per histogram; part of the RSS the benchmark reports, so kept small


def latency(histogram: Histogram) -> dict[str, float]:
    """Exact percentiles of the sample (seconds) and the histogram's own totals."""
    samples = histogram.samples
    out: dict[str, float] = {"n": histogram.n, "mean_all": histogram.total / histogram.n if histogram.n else 0.0}
    if samples is not None and samples.values:
        out.update(
            sampled_from=samples.seen, sample_size=len(samples.values),
            p50=samples.quantile(0.5), p99=samples.quantile(0.99), p999=samples.quantile(0.999),
            max_sampled=max(samples.values),
        )
    return out


def histograms(stats: ServiceStats) -> dict[str, Histogram]:
    return {"router": stats.router.latency, **{f"sink:{name}": s.latency for name, s in stats.sinks.items()}}


def snapshot(service: Service, percentiles: bool = True) -> dict[str, Any]:
    st = service.stats
    snap = {
        "pid": os.getpid(),
        "state": st.state,
        "routed": st.router.routed,
        "batches": st.router.batches,
        "last_seq": st.router.last_seq,
        "derived_routed": st.router.derived_routed,
        "derived_dropped": st.router.derived_dropped,
        "drops": {f"{target}/{reason}": n for (target, reason), n in st.router.drops.items()},
        "venues": {
            name: {"state": v.state, "frames": v.frames, "events": v.events, "reconnects": v.reconnects,
                   "parse_errors": v.parse_errors, "gaps": v.gaps, "duplicates": v.duplicates, "last_error": v.last_error}
            for name, v in st.venues.items()
        },
        "sinks": {
            name: {"state": s.state, "detail": s.detail, "queue_depth": s.queue_depth, "counters": dict(s.counters)}
            for name, s in st.sinks.items()
        },
        "channels": {name: {"size": c.size, "capacity": c.capacity} for name, c in st.channels.items()},
        "arrow_pool": {"backend": pa.default_memory_pool().backend_name, "allocated_mb": pa.total_allocated_bytes() / 1e6,
                       "max_mb": pa.default_memory_pool().max_memory() / 1e6},
        "components": {
            name: {"state": c.state, "restarts": c.restarts, "last_error": c.last_error, "counters": dict(c.counters)}
            for name, c in st.components.items()
        },
    }
    if percentiles:
        snap["latency"] = {name: latency(h) for name, h in histograms(st).items()}
    return snap


def reply(body: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(body) + "\n")
    sys.stdout.flush()


async def commands(service: Service) -> None:
    profiler = cProfile.Profile()  # the event loop's thread only: where the hot path runs
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        if line == "mark":
            for histogram in histograms(service.stats).values():
                histogram.keep_samples(SAMPLE_CAPACITY)
            reply(snapshot(service))
        elif line == "snap":
            reply(snapshot(service))
        elif line == "counts":
            reply(snapshot(service, percentiles=False))
        elif line == "profile":
            profiler.enable()
            reply({"profiling": True})
        elif line.startswith("profile-dump "):
            profiler.disable()
            profiler.dump_stats(line.split(" ", 1)[1])
            reply({"profiling": False})
        elif line == "stop":
            service.request_stop()
        else:
            reply({"error": f"unknown command {line!r}"})


async def run(graph: Graph, started: list[Service]) -> Service:
    async def control(service: Service, tg: TaskGroup) -> None:
        started.append(service)
        for histogram in histograms(service.stats).values():
            histogram.keep_samples(SAMPLE_CAPACITY)
        reply({"ready": True, "pid": os.getpid(), "health_url": service.health_url})
        tg.start_soon(commands, service)

    return await run_service(graph, control)


def main(path: str) -> int:
    config = load_config(path)
    graph = assemble(config, build_plugin_host(extra=[("bench", SlowDiskPlugin())]))
    configure_logging(config.logging)
    started: list[Service] = []
    code, error = 0, ""
    try:
        anyio.run(run, graph, started, backend="asyncio")
    except Exception as exc:  # noqa: BLE001 - reported to the benchmark, which fails the run
        code, error = 1, f"{type(exc).__name__}: {exc}"
    service = started[0] if started else None
    if service is not None and service.forced:
        code = 130
    reply({"final": snapshot(service) if service is not None else {}, "exit_code": code, "error": error})
    return code



if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
