"""The full-graph benchmark: venue simulators in one process, the real service in another.

``python -m bench`` (see ``--help`` and docs/performance.md). For each scenario:

1. ``bench.simproc`` starts the four venue simulators; ``bench.service`` runs the shipped
   ``config.toml`` graph (four connectors, ``spot_mid`` and ``iv_surface``, Parquet to a temporary
   lake, Redis to a ``redis-server`` this benchmark starts) with the scenario's transport.
2. Once every venue is live, the Kraken simulator blasts its client (at a paced rate, or as fast
   as it reads); the other venues stream at demo rates throughout.
3. After a warm-up, a measurement window of ``--seconds``: events/s through the router, CPU
   seconds of the mdi process (all threads) per event, latency percentiles (exact, from uniform
   samples), RSS every 0.25 s.
4. The blast stops; the benchmark waits until the service has received every frame sent, reads
   its RSS again (after the run), stops it with SIGTERM (ordered shutdown: every buffer is
   written) and counts the lake: every sequence number the router stamped must be in it once,
   and every event the Kraken simulator sent must be a row.
"""

from __future__ import annotations

import json
import os
import platform
import queue
import signal
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from bench import procstat
from bench.lake import count_lake
from mdi.testing.redis_server import RedisServer

REPO = Path(__file__).resolve().parents[1]
VENUES = ("kraken", "coinbase", "deribit", "binance")
BLASTED = "kraken"


@dataclass(frozen=True)
class SlowDisk:
    mb_per_s: float = 0.5
    latency_s: float = 0.02


@dataclass(frozen=True)
class Scenario:
    name: str
    transport: str
    rate: float  # events/s offered on the blasted connection; 0 = as fast as the client reads
    slow_disk: SlowDisk | None = None
    capture: bool = False  # [capture] on: its cost is this scenario's throughput vs the same one without
    journal: bool = True  # the shipped config's [journal]; off: the same graph without it


@dataclass
class Options:
    seconds: float = 20.0
    warmup: float = 3.0
    background_rate: float = 50.0
    latency_rate: float = 10_000.0
    slow_disk: SlowDisk = field(default_factory=SlowDisk)
    workdir: Path | None = None
    keep: bool = False
    profile: bool = False
    redis_flush_interval: float | None = None  # None: the shipped config's (the sink's default)


def scenarios(opts: Options, transports: tuple[str, ...], names: tuple[str, ...] = ()) -> list[Scenario]:
    """Every scenario of the transports asked for, in the order they run (``names`` filters)."""
    out: list[Scenario] = []
    for transport in transports:
        out.append(Scenario(f"{transport}-max", transport, 0.0))
        if transport == "picows":
            out.append(Scenario(f"{transport}-max-capture", transport, 0.0, capture=True))
        if transport == "picows":  # the journal's cost: the same graph without it, in the same run
            out.append(Scenario(f"{transport}-max-nojournal", transport, 0.0, journal=False))
        out.append(Scenario(f"{transport}-{opts.latency_rate / 1000:g}k", transport, opts.latency_rate))
    if "picows" in transports:
        out.append(Scenario("picows-slow-disk", "picows", 0.0, opts.slow_disk))
    return [s for s in out if not names or s.name in names]


# ----- child processes --------------------------------------------------------------------
class Child:
    """A child process that answers one JSON line per command on its stdout."""

    def __init__(self, name: str, args: list[str], log: Path) -> None:
        self.name = name
        self.log_file = log.open("w")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        self.proc = subprocess.Popen(
            [sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log_file,
            text=True, bufsize=1, cwd=REPO, env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            if line.startswith("{"):
                self.lines.put(line)
        self.lines.put(None)

    def next(self, timeout: float) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"{self.name}: no answer within {timeout}s; see {self.log_file.name}") from None
        if line is None:
            self.lines.put(None)
            raise RuntimeError(f"{self.name} exited (code {self.proc.wait()}); see {self.log_file.name}")
        return json.loads(line)  # type: ignore[no-any-return]

    def request(self, command: str, timeout: float = 30.0) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.next(timeout)

    def close(self, timeout: float = 30.0) -> int:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            self.log_file.close()


class RssSampler(threading.Thread):
    """RSS of a process every ``interval`` seconds, from /proc (nothing runs inside it)."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, float]] = []  # (monotonic s, RSS MB)
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            try:
                self.samples.append((time.monotonic(), procstat.memory(self.pid).rss_mb))
            except OSError:
                return

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def at(self, t: float) -> float:
        """The last sample taken at or before ``t`` (0.0 before the first)."""
        before = [rss for when, rss in self.samples if when <= t]
        return before[-1] if before else 0.0

    def peak(self, start: float, end: float) -> float:
        return max((rss for when, rss in self.samples if start <= when <= end), default=0.0)


# ----- configuration ----------------------------------------------------------------------
def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def to_toml(doc: dict[str, Any]) -> str:
    lines: list[str] = []
    for section, body in doc.items():
        if section in ("connectors", "pipeline", "sinks"):
            for name, table in body.items():
                lines.append(f"[{section}.{name}]")
                lines += [f"{key} = {toml_value(v)}" for key, v in table.items()]
        else:
            lines.append(f"[{section}]")
            lines += [f"{key} = {toml_value(v)}" for key, v in body.items()]
        lines.append("")
    return "\n".join(lines)


def service_config(
    sc: Scenario, urls: dict[str, str], lake: Path, redis_url: str, redis_flush_interval: float | None = None
) -> str:
    """The shipped config.toml with the simulators' URLs, the scenario's transport, a temporary
    lake, the benchmark's Redis, an ephemeral HTTP port and warnings-only logs."""
    doc = tomllib.loads((REPO / "config.toml").read_text())
    for name in VENUES:
        table = doc.setdefault("connectors", {}).setdefault(name, {})
        table.update(url=urls[name], transport=sc.transport)
    doc["connectors"]["deribit"]["max_instruments"] = 30  # the simulator's market, as in the e2e demo
    parquet = {**doc["sinks"].pop("parquet", {}), "root": str(lake)}
    if sc.slow_disk is not None:
        parquet.update(disk_mb_per_s=sc.slow_disk.mb_per_s, disk_latency=sc.slow_disk.latency_s)
        doc["sinks"] = {"slow_parquet": parquet, **doc["sinks"]}
    else:
        doc["sinks"] = {"parquet": parquet, **doc["sinks"]}
    doc["sinks"]["redis"]["url"] = redis_url
    doc["journal"] = {**doc.get("journal", {}), "root": str(lake.parent / "journal"), "enabled": sc.journal}
    if redis_flush_interval is not None:
        doc["sinks"]["redis"]["flush_interval"] = redis_flush_interval
    if sc.capture:
        doc["capture"] = {"enabled": True, "root": str(lake.parent / "capture")}
    doc["http"] = {**doc.get("http", {}), "port": 0}
    doc["logging"] = {**doc.get("logging", {}), "level": "WARNING", "format": "json"}
    return to_toml(doc)


# ----- one scenario -----------------------------------------------------------------------
def wait_live(service: Child, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        snap = service.request("snap")
        venues = snap["venues"]
        if len(venues) == len(VENUES) and all(v["state"] == "live" for v in venues.values()):
            return snap
        if time.monotonic() > deadline:
            raise RuntimeError(f"venues not live after {timeout}s: { {k: v['state'] for k, v in venues.items()} }")
        time.sleep(0.2)


def wait_received(service: Child, expected: int, timeout: float) -> tuple[dict[str, Any], bool]:
    """Poll until the blasted connector has counted ``expected`` events (or stopped moving)."""
    deadline = time.monotonic() + timeout
    last, still_since = -1, time.monotonic()
    while True:
        snap = service.request("snap")
        got = snap["venues"][BLASTED]["events"]
        if got >= expected:
            return snap, True
        now = time.monotonic()
        if got != last:
            last, still_since = got, now
        elif now - still_since > 10.0 or now > deadline:
            return snap, False
        time.sleep(0.1)


def percentiles_ms(lat: dict[str, float]) -> dict[str, float | int | None]:
    if "p50" not in lat:
        return {"p50": None, "p99": None, "p999": None, "samples": 0, "observed": int(lat.get("n", 0))}
    return {
        "p50": lat["p50"] * 1e3, "p99": lat["p99"] * 1e3, "p999": lat["p999"] * 1e3,
        "samples": int(lat["sample_size"]), "observed": int(lat["sampled_from"]),
    }


def delta(after: dict[str, Any], before: dict[str, Any], *path: str) -> float:
    """``after[path] - before[path]`` for a counter nested in two snapshots."""
    a: Any = after
    b: Any = before
    for key in path:
        a, b = a.get(key, {}), b.get(key, {})
    return float(a or 0) - float(b or 0)


def run_scenario(sc: Scenario, opts: Options, redis: RedisServer, workdir: Path) -> dict[str, Any]:
    here = workdir / sc.name
    here.mkdir(parents=True, exist_ok=True)
    lake = here / "lake"
    redis.client().flushall()
    sim = Child("simulators", ["-m", "bench.simproc", "--background-rate", str(opts.background_rate)], here / "sim.log")
    service: Child | None = None
    try:
        urls = sim.next(60)["urls"]
        config = here / "config.toml"
        config.write_text(service_config(sc, urls, lake, redis.url, opts.redis_flush_interval))
        service = Child("service", ["-m", "bench.service", str(config)], here / "service.log")
        ready = service.next(60)
        pid = ready["pid"]
        wait_live(service)
        rss_before = procstat.memory(pid).rss_mb
        sampler = RssSampler(pid)
        sampler.start()
        blast_t0 = time.monotonic()
        sim.request(f"blast {sc.rate}", timeout=60)
        time.sleep(opts.warmup)
        before, cpu0, sim_cpu0, busy0 = service.request("mark"), procstat.cpu_seconds(pid), procstat.cpu_seconds(sim.proc.pid), procstat.machine_busy_seconds()
        if opts.profile:
            service.request("profile")
        t0 = time.monotonic()
        timeline = []
        while (now := time.monotonic()) < t0 + opts.seconds:
            time.sleep(min(1.0, t0 + opts.seconds - now))
            counts = service.request("counts")
            timeline.append({"t": round(time.monotonic() - t0, 2), "routed": counts["routed"] - before["routed"],
                             "rss_mb": round(procstat.memory(pid).rss_mb, 1),
                             "queues": {name: c["size"] for name, c in counts["channels"].items() if c["size"]},
                             "parquet_buffered": max((s["queue_depth"] for n, s in counts["sinks"].items() if "parquet" in n), default=0),
                             "parquet_rows": max((s["counters"].get("rows", 0) for n, s in counts["sinks"].items() if "parquet" in n), default=0),
                             "blasted_frames": counts["venues"][BLASTED]["frames"], "arrow_pool": counts["arrow_pool"]})
        if opts.profile:
            service.request(f"profile-dump {here / 'service.prof'}", timeout=60)
        after, cpu1, sim_cpu1, busy1 = service.request("snap"), procstat.cpu_seconds(pid), procstat.cpu_seconds(sim.proc.pid), procstat.machine_busy_seconds()
        t1 = time.monotonic()
        peak_during = procstat.memory(pid).peak_mb
        sent = sim.request("stop", timeout=60)
        expected = sent["events"] + sent["snapshot_events"]
        drained, received_all = wait_received(service, expected, timeout=300)
        time.sleep(1.0)
        rss_after = procstat.memory(pid)
        sampler.stop()
        service.proc.send_signal(signal.SIGTERM)
        final = service.next(300)
        code = service.close()
        service = None
    finally:
        if service is not None:
            service.proc.kill()
            service.close()
        sim.close()
    counted = count_lake(lake, BLASTED)
    elapsed = t1 - t0
    routed = delta(after, before, "routed")
    cpu = cpu1 - cpu0
    fin = final["final"]
    parquet_key = f"sink:{'slow_parquet' if sc.slow_disk else 'parquet'}"
    kraken_final = fin["venues"][BLASTED]["events"]
    lossless = (
        received_all and code == 0 and counted.tmp_files == 0
        and counted.rows == fin["routed"] == counted.distinct_seq
        and counted.venue_rows == kraken_final == expected
    )
    result: dict[str, Any] = {
        "scenario": sc.name,
        "transport": sc.transport,
        "offered_events_per_s": sc.rate or "max",
        "slow_disk": None if sc.slow_disk is None else asdict(sc.slow_disk),
        "journal": sc.journal,
        "window_s": round(elapsed, 3),
        "events_per_s": routed / elapsed,
        "blasted_events_per_s": delta(after, before, "venues", BLASTED, "events") / elapsed,
        "blasted_frames_per_s": delta(after, before, "venues", BLASTED, "frames") / elapsed,
        "cpu_us_per_event": cpu / routed * 1e6 if routed else None,
        "cpu_cores": {
            "mdi": cpu / elapsed, "simulators": (sim_cpu1 - sim_cpu0) / elapsed,
            "machine": (busy1[0] - busy0[0]) / (busy1[1] - busy0[1]) * (os.cpu_count() or 1),
        },
        "latency_ms": {
            "receive_to_router": percentiles_ms(after["latency"]["router"]),
            "receive_to_redis": percentiles_ms(after["latency"].get("sink:redis", {})),
            "receive_to_parquet": percentiles_ms(after["latency"].get(parquet_key, {})),
            # every file from the window's start to the end of the run, the final flush included
            "receive_to_parquet_whole_run": percentiles_ms(fin.get("latency", {}).get(parquet_key, {})),
        },
        "rss_mb": {
            "before_load": rss_before,
            "peak": peak_during,
            "at_10s": sampler.at(t0 + 10.0) if elapsed >= 10.0 else None,
            "end_of_window": sampler.at(t1),
            "after_run": rss_after.rss_mb,
            "peak_in_window": sampler.peak(t0, t1),
            "samples": [(round(t - blast_t0, 2), round(rss, 1)) for t, rss in sampler.samples],  # s since blast start
        },
        "loss": {
            "lossless": lossless,
            "sent_events": expected,
            "received_events": kraken_final,
            "received_all": received_all,
            "lake_venue_rows": counted.venue_rows,
            "routed_total": fin["routed"],
            "lake_rows": counted.rows,
            "lake_distinct_seq": counted.distinct_seq,
            "tmp_files": counted.tmp_files,
        },
        "best_effort_drops": fin["drops"],
        "sinks": {name: s["counters"] for name, s in fin["sinks"].items()},
        "queues_at_end_of_window": {name: c["size"] for name, c in after["channels"].items()},
        "timeline": timeline,
        "lake": {"files": counted.files, "bytes": counted.bytes, "rows_by_stream": counted.rows_by_stream},
        "exit_code": code,
        "drained_snapshot_events": drained["venues"][BLASTED]["events"],
    }
    if sc.capture:
        result["capture"] = measure_capture(here, config, fin["routed"], fin["venues"])
    if sc.slow_disk is not None:
        result["slow_disk"]["service_state_at_end_of_window"] = after["sinks"]["slow_parquet"]["state"]
    if not opts.keep:
        _remove_lake(lake)
        _remove_lake(here / "journal")
    return result


def measure_capture(here: Path, config: Path, routed: int, venues: dict[str, Any]) -> dict[str, Any]:
    """Bytes on disk per event and per frame, then ``mdi replay --max`` of the capture: its speed."""
    root = here / "capture"
    size = sum(p.stat().st_size for p in root.rglob("*.mdicap.zst*"))
    frames = sum(v["frames"] for v in venues.values())
    replay_cfg = here / "replay.toml"
    doc = tomllib.loads(config.read_text())
    doc.pop("capture", None)
    for sink in doc["sinks"].values():
        if "root" in sink:
            sink["root"] = str(here / "replay-lake")
    replay_cfg.write_text(to_toml(doc))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mdi.cli", "replay", str(root), str(replay_cfg), "--max"],
                          capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - t0
    replayed = replay_figures(proc.stderr)
    out: dict[str, Any] = {
        "bytes_on_disk": size, "bytes_per_event": size / routed if routed else None,
        "bytes_per_frame": size / frames if frames else None, "frames": frames,
        "replay_exit_code": proc.returncode, "replay_wall_s": wall, **replayed,
    }
    if proc.returncode != 0:
        out["replay_stderr_tail"] = proc.stderr[-2000:]
    _remove_lake(here / "replay-lake") if (here / "replay-lake").exists() else None
    return out


def replay_figures(stderr: str) -> dict[str, Any]:
    """``mdi: replayed run-...: F frames, E events routed in S s (...)`` -> the figures, summed over runs."""
    import re

    frames = events = 0
    seconds = 0.0
    for m in re.finditer(r"replayed \S+: (\d+) frames, (\d+) events routed in ([\d.]+)s", stderr):
        frames, events, seconds = frames + int(m[1]), events + int(m[2]), seconds + float(m[3])
    return {"replay_frames": frames, "replay_events": events, "replay_s": seconds,
            "replay_events_per_s": events / seconds if seconds else None}


def _remove_lake(lake: Path) -> None:
    if not lake.exists():
        return
    for path in sorted(lake.rglob("*"), reverse=True):
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink()


def machine() -> dict[str, Any]:
    import msgspec
    import picows
    import pyarrow

    return {
        "cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
        "versions": {"picows": picows.__version__ if hasattr(picows, "__version__") else "?", "msgspec": msgspec.__version__,
                     "pyarrow": pyarrow.__version__},
    }
