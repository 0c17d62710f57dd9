"""``python -m bench``: run the full-graph scenarios, print a table, write the results as JSON.

The JSON goes outside the checkout unless asked (``--out bench/results/<name>.json`` records a run
for docs/performance.md), so a benchmark run never leaves untracked files behind.

Options (all have defaults; ``--help`` lists them):

- ``--seconds N``: measurement window per scenario (default 20; ``--quick``: 2);
- ``--transport picows|httpx-ws`` (repeatable; default both);
- ``--scenario NAME`` (repeatable): only these, e.g. ``picows-max``, ``httpx-ws-10k``,
  ``picows-slow-disk``, ``picows-max-nojournal`` (the shipped graph without ``[journal]``: its
  cost is printed from the two runs side by side);
- ``--quick``: a smoke run of a few seconds (``picows-max`` only, 0.5 s warm-up, 2 s window), for tests;
- ``--components``: also run the router, Parquet, Redis and journal component benchmarks;
- ``--out PATH``: where to write the JSON (default ``$TMPDIR/mdi-bench/<date>.json``, outside the checkout);
- ``--keep``: keep each scenario's config, logs and lake; ``--profile``: also cProfile the
  service's event loop during the window (``service.prof``; such a run's figures are not valid).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.full import REPO, Options, SlowDisk, machine, run_scenario, scenarios
from mdi.testing.redis_server import RedisServer

TRANSPORTS = ("picows", "httpx-ws")
GOALS = {
    "picows_events_per_s": 200_000,
    "picows_cpu_us_per_event": 5.0,
    "httpx_ws_events_per_s": 25_000,
    "router_p99_ms_at_10k": 1.0,
    "redis_p99_ms_at_10k": 25.0,
    "peak_rss_mb": 300.0,
    "parquet_rows_per_s": 1_000_000,
    "capture_throughput_ratio": 0.90,  # capture on costs at most 10 % of the throughput
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog="See docs/performance.md.")
    parser.add_argument("--seconds", type=float, default=None, help="measurement window per scenario (default 20)")
    parser.add_argument("--warmup", type=float, default=None, help="seconds of blasting before the window (default 3)")
    parser.add_argument("--transport", action="append", choices=TRANSPORTS, help="repeatable; default: both")
    parser.add_argument("--scenario", action="append", default=[], help="run only these scenarios (repeatable)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (picows-max, 2 s)")
    parser.add_argument("--rate", type=float, default=10_000.0, help="events/s offered in the latency scenarios")
    parser.add_argument("--background-rate", type=float, default=50.0, help="frames/s of each non-blasted venue")
    parser.add_argument("--slow-disk-mbps", type=float, default=0.5, help="bandwidth of the simulated slow disk, MB/s")
    parser.add_argument("--slow-disk-latency", type=float, default=0.02, help="fixed cost per file of the slow disk, s")
    parser.add_argument("--redis-flush-interval", type=float, default=None,
                        help="override [sinks.redis] flush_interval (default: the shipped config's)")
    parser.add_argument("--components", action="store_true", help="also run the router, Parquet and Redis benchmarks")
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default $TMPDIR/mdi-bench/<date>.json; bench/results/ to record a run)")
    parser.add_argument("--peer", choices=("cryptofeed",), default=None,
                        help="only the side-by-side with a peer recorder on the same frames (see bench/peer/run.py)")
    parser.add_argument("--venue", action="append", default=[], choices=("kraken", "coinbase", "deribit", "binance"),
                        help="venue(s) whose path --peer blasts (repeatable; default: every venue)")
    parser.add_argument("--peer-runs", type=int, default=3, help="alternating runs per configuration with --peer (median)")
    parser.add_argument("--peer-events", type=int, default=300_000, help="events blasted per --peer run")
    parser.add_argument("--baseline", metavar="REF", default=None,
                        help="with --peer: also run mdi from git commit REF, alternating with this checkout (before/after in one run)")
    parser.add_argument("--keep", action="store_true", help="keep the lakes and logs (printed at the end)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the service's event loop during the window (implies --keep; figures not valid)")
    return parser.parse_args(argv)


def options(args: argparse.Namespace) -> Options:
    quick = args.quick
    return Options(
        seconds=args.seconds if args.seconds is not None else (2.0 if quick else 20.0),
        warmup=args.warmup if args.warmup is not None else (0.5 if quick else 3.0),
        background_rate=args.background_rate,
        latency_rate=args.rate,
        slow_disk=SlowDisk(args.slow_disk_mbps, args.slow_disk_latency),
        keep=args.keep or args.profile,
        redis_flush_interval=args.redis_flush_interval,
        profile=args.profile,
    )


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def peer_main(args: argparse.Namespace) -> dict[str, Any]:
    """``--peer cryptofeed``: mdi and the peer on the same frames, with the raw ceiling beside."""
    from bench.peer.run import PEER_SUPPORTED, run_peer

    started = datetime.now(timezone.utc)
    venues = args.venue or list(PEER_SUPPORTED)
    unsupported = [v for v in venues if v not in PEER_SUPPORTED]
    if unsupported:
        raise SystemExit(f"--peer: no blast for {unsupported} yet (have {list(PEER_SUPPORTED)})")
    report: dict[str, Any] = {"date": started.isoformat(timespec="seconds"), "machine": machine(),
                              "peer": run_peer(venues, args.peer_runs, args.peer_events, baseline=args.baseline)}
    out = args.out or default_out(started, False).with_name(f"{started.date().isoformat()}-peer.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten {out}")
    return report


def default_out(started: datetime, quick: bool) -> Path:
    """Where a run's JSON goes unless ``--out`` says: a temporary folder, never the checkout."""
    return Path(tempfile.gettempdir()) / "mdi-bench" / f"{started.date().isoformat()}{'-quick' if quick else ''}.json"


def print_tables(results: list[dict[str, Any]]) -> None:
    print(f"\n{'scenario':<18}{'events/s':>11}{'frames/s':>11}{'CPU us/ev':>10}{'mdi cores':>10}"
          f"{'RSS peak':>9}{'@10s':>7}{'end':>7}{'after':>7}  lossless")
    for r in results:
        rss = r["rss_mb"]
        at10 = "-" if rss["at_10s"] is None else f"{rss['at_10s']:.0f}"
        cpu = "-" if r["cpu_us_per_event"] is None else f"{r['cpu_us_per_event']:.2f}"
        print(f"{r['scenario']:<18}{r['events_per_s']:>11,.0f}{r['blasted_frames_per_s']:>11,.0f}{cpu:>10}"
              f"{r['cpu_cores']['mdi']:>10.2f}{rss['peak']:>9.0f}{at10:>7}{rss['end_of_window']:>7.0f}"
              f"{rss['after_run']:>7.0f}  {r['loss']['lossless']}")
    print(f"\nlatency, ms: p50 / p99 / p99.9 (exact, from a uniform sample over the window)")
    print(f"{'scenario':<18}{'receive->router':>24}{'receive->Redis written':>28}{'receive->Parquet visible':>30}")
    for r in results:
        cells = []
        for key in ("receive_to_router", "receive_to_redis", "receive_to_parquet"):
            lat = r["latency_ms"][key]
            cells.append(f"{ms(lat['p50'])} / {ms(lat['p99'])} / {ms(lat['p999'])}")
        print(f"{r['scenario']:<18}{cells[0]:>24}{cells[1]:>28}{cells[2]:>30}")
    print_capture(results)


def print_capture(results: list[dict[str, Any]]) -> None:
    """Capture's cost: throughput with it vs the same scenario without, disk use, replay speed."""
    by = {r["scenario"]: r for r in results}
    for r in results:
        cap = r.get("capture")
        if not cap:
            continue
        base = by.get(r["scenario"].removesuffix("-capture"))
        ratio = f"{r['events_per_s'] / base['events_per_s']:.1%} of {base['scenario']}" if base else "no baseline this run"
        rate = cap["replay_events_per_s"]
        vs_live = f"{rate / r['events_per_s']:.2f}x live" if rate and r["events_per_s"] else "-"
        print(f"\ncapture ({r['scenario']}): throughput {r['events_per_s']:,.0f} events/s = {ratio}; "
              f"{cap['bytes_on_disk'] / 1e6:.1f} MB on disk, {cap['bytes_per_event'] or 0:.1f} B/event, "
              f"{cap['bytes_per_frame'] or 0:.1f} B/frame; replay --max {rate or 0:,.0f} events/s ({vs_live}, "
              f"exit {cap['replay_exit_code']})")


def journal_cost(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """picows-max (journal on, as shipped) against picows-max-nojournal, both from this run."""
    by = {r["scenario"]: r for r in results}
    on, off = by.get("picows-max"), by.get("picows-max-nojournal")
    if on is None or off is None or not on["cpu_us_per_event"] or not off["cpu_us_per_event"]:
        return None
    return {
        "events_per_s_on": on["events_per_s"], "events_per_s_off": off["events_per_s"],
        "throughput_ratio": on["events_per_s"] / off["events_per_s"],
        "cpu_us_per_event_on": on["cpu_us_per_event"], "cpu_us_per_event_off": off["cpu_us_per_event"],
        "cpu_us_per_event_added": on["cpu_us_per_event"] - off["cpu_us_per_event"],
    }


def print_journal(cost: dict[str, Any] | None, components: dict[str, Any]) -> None:
    if cost is not None:
        print(f"\njournal cost (same run): {cost['events_per_s_on']:,.0f} events/s with, {cost['events_per_s_off']:,.0f} without "
              f"(x{cost['throughput_ratio']:.2f}); CPU {cost['cpu_us_per_event_on']:.2f} vs {cost['cpu_us_per_event_off']:.2f} us/event "
              f"({cost['cpu_us_per_event_added']:+.2f})")
    journal = components.get("journal")
    if journal:
        print(f"journal component: append {journal['append']['events_per_s']:,.0f} events/s at "
              f"{journal['append']['cpu_us_per_event']:.2f} CPU us/event; recovery scan {journal['scan_rows_per_s']:,.0f} rows/s, "
              f"replay {journal['replay_rows_per_s']:,.0f} rows/s, into the Parquet sink {journal['recover_rows_per_s']:,.0f} rows/s")


def goals(results: list[dict[str, Any]], components: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal with the measured figure and whether it holds (None: not measured this run)."""
    by = {r["scenario"]: r for r in results}
    out: list[dict[str, Any]] = []

    def add(goal: str, target: float, value: float | None, higher_is_better: bool) -> None:
        met = None if value is None else (value >= target if higher_is_better else value <= target)
        out.append({"goal": goal, "target": target, "measured": value, "met": met})

    def figure(scenario: str, *path: str) -> float | None:
        value: Any = by.get(scenario)
        for key in path:
            value = None if value is None else value[key]
        return value

    add("picows events/s", GOALS["picows_events_per_s"], figure("picows-max", "events_per_s"), True)
    add("picows CPU us/event", GOALS["picows_cpu_us_per_event"], figure("picows-max", "cpu_us_per_event"), False)
    add("httpx-ws events/s", GOALS["httpx_ws_events_per_s"], figure("httpx-ws-max", "events_per_s"), True)
    for r in results:
        if r["offered_events_per_s"] != "max":
            add(f"{r['scenario']} receive->router p99 ms", GOALS["router_p99_ms_at_10k"],
                r["latency_ms"]["receive_to_router"]["p99"], False)
            add(f"{r['scenario']} receive->Redis p99 ms", GOALS["redis_p99_ms_at_10k"],
                r["latency_ms"]["receive_to_redis"]["p99"], False)
    add("capture throughput vs without (picows-max-capture / picows-max)", GOALS["capture_throughput_ratio"],
        _ratio(figure("picows-max-capture", "events_per_s"), figure("picows-max", "events_per_s")), True)
    add("replay --max events/s vs live (picows-max-capture)", 1.0,
        _ratio(figure("picows-max-capture", "capture", "replay_events_per_s"), figure("picows-max-capture", "events_per_s")), True)
    add("peak RSS MB (picows-max)", GOALS["peak_rss_mb"], figure("picows-max", "rss_mb", "peak"), False)
    parquet = components.get("parquet", {})
    for kind in ("bbo", "trade"):
        add(f"Parquet events->Arrow->ZSTD rows/s ({kind}, one thread)", GOALS["parquet_rows_per_s"],
            parquet.get(kind, {}).get("rows+write"), True)
        add(f"Parquet sink rows/s ({kind}, events in -> files visible)", GOALS["parquet_rows_per_s"],
            parquet.get(kind, {}).get("sink"), True)
    out.append({"goal": "nothing lost (every scenario)", "target": True,
                "measured": all(r["loss"]["lossless"] for r in results), "met": all(r["loss"]["lossless"] for r in results)})
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def print_log_tails(directory: Path, lines: int = 30) -> None:
    for log in sorted(directory.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        print(f"--- last {len(tail)} lines of {log.name} ---", *tail, sep="\n", file=sys.stderr)


def run_components() -> dict[str, Any]:
    """The component benchmarks, in-process (each one also runs alone: python -m bench.bench_*)."""
    import anyio

    from bench import bench_journal, bench_parquet, bench_redis, bench_router

    out: dict[str, Any] = {"router": anyio.run(bench_router.measure, 5.0, backend="asyncio")}
    parquet: dict[str, Any] = {}
    for kind in ("bbo", "trade"):
        with tempfile.TemporaryDirectory(prefix="mdi-bench-parquet-") as tmp:
            parquet[kind] = bench_parquet.bench_steps(kind, 100_000, 3, 3, Path(tmp) / "steps")
            parquet[kind]["sink"] = anyio.run(bench_parquet.bench_sink, kind, 100_000, 3, 3, Path(tmp) / "sink")
    out["parquet"] = parquet
    out["journal"] = bench_journal.measure(500_000)
    with RedisServer() as server:
        events = 1_000_000
        burst = anyio.run(bench_redis.burst, server, events, 1000, 0.05)
        out["redis"] = {"events": events, "events_per_s": events / burst["elapsed"], "commands": burst["commands"],
                        "command_total": sum(burst["commands"].values())}
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.peer:
        return peer_main(args)
    opts = options(args)
    transports = tuple(args.transport or TRANSPORTS)
    names = tuple(args.scenario) or (("picows-max",) if args.quick else ())
    plan = scenarios(opts, transports, names)
    if not plan:
        raise SystemExit(f"no scenario matches {names} for transports {transports}")
    started = datetime.now(timezone.utc)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mdi-bench-") as tmp, RedisServer() as redis:
        workdir = Path(tmp)
        for sc in plan:
            print(f"bench: {sc.name}: {opts.warmup:g} s warm-up + {opts.seconds:g} s ...", file=sys.stderr, flush=True)
            begun = time.monotonic()
            try:
                results.append(run_scenario(sc, opts, redis, workdir))
            except Exception:
                print_log_tails(workdir / sc.name)  # the directory goes away with the exception
                raise
            print(f"bench: {sc.name}: done in {time.monotonic() - begun:.0f} s", file=sys.stderr, flush=True)
        if opts.keep:
            kept = Path(tempfile.mkdtemp(prefix="mdi-bench-kept-"))
            shutil.copytree(workdir, kept, dirs_exist_ok=True)
            print(f"bench: logs and lakes kept in {kept}", file=sys.stderr)
    components = run_components() if args.components else {}
    report: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "options": {"seconds": opts.seconds, "warmup": opts.warmup, "transports": list(transports),
                    "latency_rate": opts.latency_rate, "background_rate": opts.background_rate,
                    "slow_disk": asdict(opts.slow_disk), "quick": args.quick,
                    "redis_flush_interval": opts.redis_flush_interval},
        "scenarios": results,
        "components": components,
        "goals": [],
    }
    report["goals"] = goals(results, components)
    report["journal_cost"] = journal_cost(results)
    print_tables(results)
    print_journal(report["journal_cost"], components)
    print("\ngoals:")
    for g in report["goals"]:
        if g["measured"] is not None:
            state = {True: "met", False: "NOT MET", None: "-"}[g["met"]]
            value = str(g["measured"]) if isinstance(g["measured"], bool) else f"{g['measured']:,.2f}"
            print(f"  {g['goal']:<44} target {g['target']!s:>10}  measured {value:>14}  {state}")
    out = args.out or default_out(started, args.quick)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten {out}")
    return report
