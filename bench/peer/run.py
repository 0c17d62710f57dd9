"""mdi against cryptofeed on the same frames, alternating, with the raw ceiling as calibration.

For each venue and each run (``--peer-runs``, default 3), in this order every time, so drift of
the machine hits all of them alike:

- ``raw``: picows + msgspec into the venue's wire Structs (:mod:`bench.peer.raw`), the ceiling;
- ``mdi-ingest``: ``mdi run`` with that one connector and no sinks (events are parsed, stamped
  and routed to nobody);
- ``cryptofeed-noop``: cryptofeed with a counting async callback;
- ``mdi-full``: ``mdi run`` with the connector, Parquet and Redis (and the shipped config's
  ``[journal]``/``[capture]``, when it has them);
- ``cryptofeed-redis``: cryptofeed's own Redis backend.

Each is a fresh process tree: a blast server (:mod:`bench.peer.server`) and the client. The
server waits until the client has subscribed, then writes ``--peer-events`` events as fast as
the client reads. The client's CPU (all threads, from /proc) is sampled every 10 ms from here;
the run ends when it has been idle for 0.3 s. events/s = events / (last busy sample - first
byte); CPU/event = CPU used over that span / events. The client's own count must equal what was
sent (mdi: ``mdi_venue_events_total``; cryptofeed: its callback's count or the rows its backend
wrote), or the run is marked invalid. Medians over the runs and ratios go into the results JSON
under ``peer``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx

from bench import procstat
from bench.full import REPO, to_toml
from bench.peer.venues import VENUES
from mdi.testing.redis_server import RedisServer

CRYPTOFEED = "cryptofeed==2.4.1"  # the newest that installs on Python 3.11
CONFIGS = ("raw", "mdi-ingest", "cryptofeed-noop", "mdi-full", "cryptofeed-redis")
BASE = "@base"  # suffix of the configs run from the --baseline checkout (mdi-ingest@base, mdi-full@base)
IDLE_S = 0.3
SAMPLE_NS = 10_000_000  # the CPU watch's interval: the resolution of every span measured here
BUSY_CPU_S = 0.002  # more than this per 10 ms sample: the client was still working
PEER_SUPPORTED = tuple(VENUES)


def cryptofeed_python() -> Path:
    """cryptofeed in a venv of its own, made once under ~/.cache (never in the checkout)."""
    home = Path(os.environ.get("MDI_BENCH_CACHE", Path.home() / ".cache" / "mdi-bench"))
    venv = home / f"{CRYPTOFEED.replace('==', '-')}-py{sys.version_info.major}{sys.version_info.minor}"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"bench: creating {venv} with {CRYPTOFEED} (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", CRYPTOFEED, "redis"], check=True)
    return python


class CpuWatch(threading.Thread):
    """CPU seconds of a process every 10 ms (nothing runs inside it)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[int, float]] = []
        self.rss: list[tuple[int, float]] = []  # (ns, RSS MB), every 10th CPU sample
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(SAMPLE_NS / 1e9):
            try:
                now = time.time_ns()
                self.samples.append((now, procstat.cpu_seconds(self.pid)))
                if len(self.samples) % 10 == 1:
                    self.rss.append((now, procstat.memory(self.pid).rss_mb))
            except OSError:
                return

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def cpu_at(self, ns: int) -> float:
        before = [cpu for t, cpu in self.samples if t <= ns]
        return before[-1] if before else (self.samples[0][1] if self.samples else 0.0)

    def rss_before(self, ns: int) -> float:
        """RSS of the last sample before ``ns``: connected, subscribed, and waiting for data."""
        before = [mb for t, mb in self.rss if t <= ns]
        return before[-1] if before else 0.0

    def idle_since(self, after_ns: int) -> int | None:
        """The time of the last busy sample after ``after_ns``, once IDLE_S has passed without one."""
        last_busy = after_ns
        for (t0, c0), (t1, c1) in zip(self.samples, self.samples[1:]):
            if t1 > after_ns and c1 - c0 > BUSY_CPU_S:
                last_busy = t1
        if self.samples and self.samples[-1][0] - last_busy > IDLE_S * 1e9:
            return last_busy
        return None


def _line(proc: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    result: dict[str, Any] = {}

    def read() -> None:
        line = proc.stdout.readline() if proc.stdout else ""
        if line.strip():
            result.update(json.loads(line))

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(max(0.0, deadline - time.monotonic()))
    if not result:
        raise RuntimeError(f"no answer from {proc.args!r} within {timeout}s")
    return result


def _env(tree: Path | None = None) -> dict[str, str]:
    """The environment of a child; with ``tree`` (a baseline checkout), mdi's core and plugins
    are imported from there: ``PYTHONPATH`` comes before the editable install's finder."""
    first = [str(tree / "core"), str(tree / "plugins")] if tree is not None else []
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [*first, str(REPO), os.environ.get("PYTHONPATH")]))}


def baseline_tree(ref: str, into: Path) -> Path:
    """The files of commit ``ref`` (``git archive``: no worktree left behind in the repository)."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def mdi_config(venue: str, url: str, full: bool, work: Path, redis_url: str, tree: Path = REPO) -> str:
    doc: dict[str, Any] = {"connectors": {venue: VENUES[venue].mdi_section(url)}}
    shipped = tomllib.loads((tree / "config.toml").read_text())
    if full:
        parquet = {**shipped["sinks"]["parquet"], "root": str(work / "lake")}
        redis = {**shipped["sinks"]["redis"], "url": redis_url}
        doc["sinks"] = {"parquet": parquet, "redis": redis}
        for section in ("journal", "capture"):  # as shipped, on the scenario's own disk
            if section in shipped:
                doc[section] = {**shipped[section], **({"root": str(work / section)} if "root" in shipped[section] else {})}
    doc["http"] = {"host": "127.0.0.1", "port": 0}
    doc["logging"] = {"level": "WARNING", "format": "json"}
    return to_toml(doc)


def _mdi_client(config: Path, tree: Path | None = None) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "mdi.cli", "run", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=_env(tree), cwd=REPO)
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        match = re.search(r'"health_url":"(http://[^"]+)"', line)
        if match:
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep the pipe drained
            return proc, match.group(1)
    proc.kill()
    raise RuntimeError("mdi run did not start")


def _mdi_events(health_url: str, venue: str) -> int:
    text = httpx.get(f"{health_url}/metrics", timeout=10).text
    match = re.search(rf'^mdi_venue_events_total{{venue="{venue}"}} (\S+)$', text, re.M)
    return int(float(match.group(1))) if match else -1


def one_run(config: str, venue: str, events: int, cf_python: Path, redis: RedisServer, work: Path,
            base: Path | None = None) -> dict[str, Any]:
    """One configuration on one venue; ``base`` is the baseline checkout for ``...@base`` configs."""
    work.mkdir(parents=True, exist_ok=True)
    redis.client().flushall()
    client_kind = "cf" if config.startswith("cryptofeed") else "mdi"
    server = subprocess.Popen([sys.executable, "-m", "bench.peer.server", venue, str(events), client_kind],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_env(), cwd=REPO)
    client: subprocess.Popen[str] | None = None
    health_url = ""
    try:
        port = _line(server, 30)["port"]
        path = "/market/stream" if venue == "binance" and client_kind == "mdi" else ""
        url = f"ws://127.0.0.1:{port}{path}"
        if config == "raw":
            client = subprocess.Popen([sys.executable, "-m", "bench.peer.raw", venue, url], stdout=subprocess.PIPE,
                                      text=True, env=_env(), cwd=REPO)
        elif client_kind == "mdi":
            tree = base if config.endswith(BASE) else None
            cfg = work / "config.toml"
            cfg.write_text(mdi_config(venue, url, config.startswith("mdi-full"), work, redis.url, tree or REPO))
            client, health_url = _mdi_client(cfg, tree)
        else:
            mode = "redis" if config.endswith("redis") else "noop"
            client = subprocess.Popen([str(cf_python), str(Path(__file__).with_name("cf_runner.py")), venue, url, mode, str(redis.port)],
                                      stdout=subprocess.PIPE, text=True)
        watch = CpuWatch(client.pid)
        watch.start()
        blast = _line(server, 120)
        deadline = time.monotonic() + 300
        while (end_ns := watch.idle_since(blast["first_ns"])) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        watch.stop()
        if end_ns is None:
            raise RuntimeError(f"{config}: still busy after 300 s")
        cpu = watch.cpu_at(end_ns) - watch.cpu_at(blast["first_ns"])
        elapsed = max(end_ns - blast["first_ns"], SAMPLE_NS) / 1e9  # at least one sampling interval
        rss_mb = procstat.memory(client.pid).rss_mb
        rss_idle_mb = watch.rss_before(blast["first_ns"])
        if health_url:
            counted = _mdi_events(health_url, venue)
            client.send_signal(signal.SIGTERM)
            client.wait(120)
        else:
            client.send_signal(signal.SIGTERM)
            counted = int(_line(client, 60).get("events", -1)) if config != "cryptofeed-redis" else -1
            client.wait(60)
            if config == "cryptofeed-redis":
                r = redis.client()
                counted = sum(int(r.zcard(k)) for k in r.keys("*") if r.type(k) in (b"zset", "zset"))
        client = None
    finally:
        for proc in (client, server):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        if server.stdin is not None:
            server.stdin.close()
        server.wait(10)
    return {"config": config, "venue": venue, "events": blast["events"], "frames": blast["frames"], "counted": counted,
            "valid": counted == blast["events"], "seconds": elapsed, "events_per_s": blast["events"] / elapsed,
            "cpu_us_per_event": cpu / blast["events"] * 1e6, "rss_mb_idle": rss_idle_mb, "rss_mb_after": rss_mb}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per venue and config, and the ratios the goals are stated in."""
    out: dict[str, Any] = {}
    for venue in sorted({r["venue"] for r in runs}):
        med: dict[str, dict[str, float]] = {}
        for config in sorted({r["config"] for r in runs}, key=_config_order):
            mine = [r for r in runs if r["venue"] == venue and r["config"] == config and r["valid"]]
            if mine:
                med[config] = {"events_per_s": statistics.median(r["events_per_s"] for r in mine),
                               "cpu_us_per_event": statistics.median(r["cpu_us_per_event"] for r in mine),
                               "rss_mb_idle": statistics.median(r.get("rss_mb_idle", 0.0) for r in mine),
                               "runs": len(mine)}

        def ratio(a: str, b: str, key: str = "events_per_s") -> float | None:
            return med[a][key] / med[b][key] if a in med and b in med else None

        out[venue] = {
            "medians": med,
            "ratios": {
                "ingest_vs_cryptofeed_events": ratio("mdi-ingest", "cryptofeed-noop"),
                "ingest_vs_cryptofeed_cpu": ratio("mdi-ingest", "cryptofeed-noop", "cpu_us_per_event"),
                "full_vs_cryptofeed_redis_events": ratio("mdi-full", "cryptofeed-redis"),
                "full_vs_raw_ceiling": ratio("mdi-full", "raw"),
                "ingest_vs_raw_ceiling": ratio("mdi-ingest", "raw"),
                "full_rss_idle_mb": med["mdi-full"]["rss_mb_idle"] if "mdi-full" in med else None,
                "cryptofeed_redis_rss_idle_mb": med["cryptofeed-redis"]["rss_mb_idle"] if "cryptofeed-redis" in med else None,
            },
        }
        if any(c.endswith(BASE) for c in med):  # after (this checkout) against before (--baseline)
            out[venue]["vs_baseline"] = {
                "ingest_events": ratio("mdi-ingest", "mdi-ingest" + BASE),
                "ingest_cpu": ratio("mdi-ingest", "mdi-ingest" + BASE, "cpu_us_per_event"),
                "full_events": ratio("mdi-full", "mdi-full" + BASE),
                "full_cpu": ratio("mdi-full", "mdi-full" + BASE, "cpu_us_per_event"),
                "baseline_ingest_vs_cryptofeed_events": ratio("mdi-ingest" + BASE, "cryptofeed-noop"),
                "baseline_ingest_vs_cryptofeed_cpu": ratio("mdi-ingest" + BASE, "cryptofeed-noop", "cpu_us_per_event"),
                "baseline_full_vs_cryptofeed_redis_events": ratio("mdi-full" + BASE, "cryptofeed-redis"),
                "baseline_full_vs_raw_ceiling": ratio("mdi-full" + BASE, "raw"),
            }
    return out


GOALS = (("ingest_vs_cryptofeed_events", ">=", 3.0), ("ingest_vs_cryptofeed_cpu", "<=", 1 / 3),
         ("full_vs_cryptofeed_redis_events", ">=", 6.0), ("full_vs_raw_ceiling", ">=", 0.40),
         ("full_rss_idle_mb", "<=", 75.0))


def _config_order(config: str) -> tuple[int, str]:
    """Print and store in the run order: raw, mdi-ingest, mdi-ingest@base, cryptofeed-noop, ..."""
    name = config.removesuffix(BASE)
    return (CONFIGS.index(name) if name in CONFIGS else len(CONFIGS), config)


def with_baseline(configs: tuple[str, ...]) -> tuple[str, ...]:
    """Each mdi config followed by the same config from the baseline checkout."""
    return tuple(c for config in configs for c in ((config, config + BASE) if config.startswith("mdi-") else (config,)))


def print_summary(summary: dict[str, Any]) -> None:
    print("\npeer: mdi vs cryptofeed 2.4.1 (medians; same frames, alternating runs)")
    print(f"  {'venue':<9} {'config':<17} {'events/s':>10} {'CPU us/ev':>10} {'idle MB':>8} {'runs':>5}")
    for venue, body in summary.items():
        for config, m in body["medians"].items():
            print(f"  {venue:<9} {config:<17} {m['events_per_s']:>10,.0f} {m['cpu_us_per_event']:>10.2f} "
                  f"{m['rss_mb_idle']:>8.1f} {m['runs']:>5}")
        for name, op, target in GOALS:
            value = body["ratios"][name]
            met = None if value is None else (value >= target if op == ">=" else value <= target)
            state = {True: "met", False: "NOT MET", None: "-"}[met]
            shown = "-" if value is None else f"{value:.2f}"
            print(f"  {venue:<9} {name:<40} {shown:>6} (goal {op} {target:.2f}) {state}")
        for name, value in body.get("vs_baseline", {}).items():
            shown = "-" if value is None else f"{value:.2f}"
            what = "the baseline's own ratio" if name.startswith("baseline_") else "this checkout / the baseline"
            print(f"  {venue:<9} {name:<40} {shown:>6} ({what})")


def run_peer(venues: list[str], runs: int, events: int, workdir: Path | None = None,
             configs: tuple[str, ...] = CONFIGS, baseline: str | None = None) -> dict[str, Any]:
    """Every config in ``configs`` on every venue, ``runs`` times, alternating; medians and ratios.

    ``baseline`` (a git ref): each mdi config also runs from that commit's files, right after
    the same config from this checkout, so before and after are measured in one run.
    """
    if baseline is not None:
        configs = with_baseline(configs)
    cf_python = cryptofeed_python() if any(c.startswith("cryptofeed") for c in configs) else Path(sys.executable)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mdi-peer-") as tmp, RedisServer() as redis:
        base = workdir or Path(tmp)
        tree = baseline_tree(baseline, Path(tmp) / "baseline") if baseline is not None else None
        for i in range(runs):
            for venue in venues:
                for config in configs:
                    work = base / f"{venue}-{config}-{i}"
                    result = one_run(config, venue, events, cf_python, redis, work, tree)
                    result["run"] = i
                    results.append(result)
                    print(f"  run {i + 1}/{runs} {venue:<9} {config:<17} {result['events_per_s']:>10,.0f} ev/s "
                          f"{result['cpu_us_per_event']:>7.2f} us/ev{'' if result['valid'] else '  INVALID: counted ' + str(result['counted'])}",
                          flush=True)
                    if workdir is None:
                        shutil.rmtree(work, ignore_errors=True)
    summary = summarize(results)
    print_summary(summary)
    commit = None
    if baseline is not None:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", baseline], capture_output=True, text=True).stdout.strip()
    return {"peer": "cryptofeed", "version": CRYPTOFEED, "events": events, "baseline": baseline, "baseline_commit": commit,
            "runs": results, "summary": summary}
