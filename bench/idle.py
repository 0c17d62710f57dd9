"""Idle memory of ``mdi run``: ``python -m bench.idle`` prints the RSS of the shipped graph, idle.

``mdi run`` gets the shipped ``config.toml`` with only what a machine without the internet needs
changed: the four connectors point at their built-in simulators (run here, in this process, so
they cost the measured process nothing), the Parquet lake, the journal and the capture live in a
temporary directory, Redis is a private ``redis-server`` (:class:`mdi.testing.redis_server.RedisServer`),
the HTTP server takes a free port and logs are warnings only. Deribit is limited to the
simulator's market (``max_instruments = 30``, as the other benchmarks and the e2e demo do).

The simulators trickle ``--rate`` data frames per second each (default 1: connected, subscribed
and receiving, nothing more). Once every venue is ``live`` in ``/health`` (``subscribed`` is
enough with ``--rate 0``: a venue is live once data arrives), ``/metrics``,
``/health`` and ``/`` are fetched once each (a scraped service has its HTTP routes warmed up),
and after ``--idle`` seconds the memory of the process is read from ``/proc``: ``VmRSS``,
``VmHWM`` (peak), ``RssAnon``/``RssFile`` and ``smaps_rollup``'s ``Pss`` and
``Private_Dirty``, in MB (10**6 bytes), plus the thread count. It prints one human line and one
JSON line. ``--importtime FILE`` also writes the child's ``python -X importtime`` report there.

The number is a measurement, not a check: RSS depends on the Python build, the wheels and the
allocator, and it grows once the Parquet sink writes its first file (see docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from contextlib import AsyncExitStack
from pathlib import Path
from typing import IO, Any, Callable

import anyio
import httpx

from bench.full import REPO, to_toml
from mdi.testing.redis_server import RedisServer
from mdi.testing.sim import VenueSimulator

VENUES = ("kraken", "coinbase", "deribit", "binance")
MB = 1e6


def _simulator(venue: str) -> VenueSimulator:
    """The venue's built-in simulator, as ``mdi demo`` builds it."""
    from mdi_binance.sim import BinanceSimulator
    from mdi_coinbase.sim import CoinbaseSimulator
    from mdi_deribit.plugin import make_simulator
    from mdi_kraken.sim import KrakenSimulator

    makers: dict[str, Callable[[], VenueSimulator]] = {"kraken": KrakenSimulator, "coinbase": CoinbaseSimulator, "deribit": make_simulator, "binance": BinanceSimulator}
    return makers[venue]()


class Simulators(threading.Thread):
    """The four simulators on their own event loop in a thread of this (the measuring) process."""

    def __init__(self, rate: float) -> None:
        super().__init__(daemon=True)
        self.rate = rate
        self.settings: queue.Queue[dict[str, dict[str, Any]] | BaseException] = queue.Queue()
        self.halt = threading.Event()
        self.sims: dict[str, VenueSimulator] = {}

    def run(self) -> None:
        try:
            anyio.run(self._main)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
            self.settings.put(exc)

    async def _main(self) -> None:
        async with AsyncExitStack() as stack:
            for venue in VENUES:
                sim = _simulator(venue)
                await stack.enter_async_context(sim)
                self.sims[venue] = sim
            self.settings.put({venue: sim.sim_settings() for venue, sim in self.sims.items()})
            async with anyio.create_task_group() as tg:
                if self.rate > 0:
                    for sim in self.sims.values():
                        tg.start_soon(sim.stream_demo, self.rate)
                while not self.halt.is_set():
                    await anyio.sleep(0.05)
                tg.cancel_scope.cancel()

    def wait_settings(self, timeout: float = 30.0) -> dict[str, dict[str, Any]]:
        got = self.settings.get(timeout=timeout)
        if isinstance(got, BaseException):
            raise RuntimeError(f"simulators failed to start: {got!r}") from got
        return got


def idle_config(settings: dict[str, dict[str, Any]], work: Path, redis_url: str) -> str:
    """The shipped config.toml, pointed at the simulators, a temporary disk and a private Redis."""
    doc = tomllib.loads((REPO / "config.toml").read_text())
    for venue, extra in settings.items():
        doc["connectors"][venue].update(extra)
    doc["connectors"]["deribit"]["max_instruments"] = 30  # the simulator's market
    doc["sinks"]["parquet"]["root"] = str(work / "lake")
    doc["sinks"]["redis"]["url"] = redis_url
    for section in ("journal", "capture"):
        if section in doc and "root" in doc[section]:
            doc[section]["root"] = str(work / section)
    doc["http"] = {**doc.get("http", {}), "host": "127.0.0.1", "port": 0}
    doc["logging"] = {**doc.get("logging", {}), "level": "WARNING", "format": "json"}
    return to_toml(doc)


def memory(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM, RssAnon, RssFile (``/proc/PID/status``) and Pss, Private_Dirty
    (``/proc/PID/smaps_rollup``), in MB; Threads as a count."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            out[key] = int(rest.split()[0]) * 1024 / MB
        elif key == "Threads":
            out[key] = int(rest.split()[0])
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, _, rest = line.partition(":")
            if key in ("Pss", "Private_Dirty"):
                out[key] = int(rest.split()[0]) * 1024 / MB
    except OSError:  # kernels before 4.14 have no smaps_rollup
        pass
    return out


def _pump(stream: IO[str], lines: queue.Queue[str | None], keep: IO[str] | None) -> None:
    for line in stream:
        if keep is not None and line.startswith("import time:"):
            keep.write(line)
        else:
            lines.put(line)
    lines.put(None)


def _wait_health_url(lines: queue.Queue[str | None], seen: list[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        match = re.search(r'"health_url":"(http://[^"]+)"', line)
        if match:
            return match.group(1)
    raise RuntimeError("mdi run did not start:\n" + "".join(seen[-30:]))


def _wait_live(client: httpx.Client, base: str, timeout: float, ready: tuple[str, ...]) -> dict[str, Any]:
    """Until every venue's state is in ``ready`` (``live`` needs data: without it, ``subscribed``)."""
    deadline = time.monotonic() + timeout
    while True:
        doc: dict[str, Any] = client.get(f"{base}/health").json()
        states = {name: v.get("state") for name, v in doc.get("venues", {}).items()}
        if set(states) >= set(VENUES) and all(states[v] in ready for v in VENUES):
            return doc
        if time.monotonic() > deadline:
            raise RuntimeError(f"venues not live after {timeout}s: {states}")
        time.sleep(0.2)


def measure_idle(idle: float = 5.0, rate: float = 1.0, importtime: Path | None = None,
                 python: str = sys.executable, timeout: float = 90.0) -> dict[str, Any]:
    """Start ``mdi run`` on the shipped config (simulated venues), let it idle, read its memory.

    ``PYTHONPATH`` from the environment reaches the child first (before this checkout), so
    ``PYTHONPATH=/other/checkout/core:/other/checkout/plugins`` measures another revision.
    """
    sims = Simulators(rate)
    sims.start()
    keep = importtime.open("w") if importtime is not None else None
    proc: subprocess.Popen[str] | None = None
    try:
        settings = sims.wait_settings()
        with tempfile.TemporaryDirectory(prefix="mdi-idle-") as tmp, RedisServer() as redis:
            work = Path(tmp)
            config = work / "config.toml"
            config.write_text(idle_config(settings, work, redis.url))
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(REPO)]))}
            args = [python, *(["-X", "importtime"] if importtime is not None else []), "-m", "mdi.cli", "run", str(config)]
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=work)
            assert proc.stderr is not None
            lines: queue.Queue[str | None] = queue.Queue()
            threading.Thread(target=_pump, args=(proc.stderr, lines, keep), daemon=True).start()
            seen: list[str] = []
            started = time.monotonic()
            base = _wait_health_url(lines, seen, timeout)
            with httpx.Client(timeout=10) as client:
                health = _wait_live(client, base, timeout, ("live",) if rate > 0 else ("live", "subscribed"))
                live_s = time.monotonic() - started
                for path in ("/metrics", "/health", "/"):
                    client.get(f"{base}{path}")
                time.sleep(idle)
                mem = memory(proc.pid)
                health = client.get(f"{base}/health").json()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(60)
            proc = None
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        sims.halt.set()
        sims.join(30)
        if keep is not None:
            keep.close()
    return {"rss_mb": mem["VmRSS"], "memory_mb": mem, "idle_s": idle, "rate": rate, "live_after_s": round(live_s, 2),
            "status": health.get("status"), "venues": {v: health["venues"][v]["state"] for v in VENUES},
            "exit_code": code}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.idle", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds idle (after every venue is live) before reading RSS")
    parser.add_argument("--rate", type=float, default=1.0, help="data frames per second each simulator sends (0: none)")
    parser.add_argument("--repeats", type=int, default=1, help="start mdi run this many times, one line each")
    parser.add_argument("--importtime", type=Path, help="write the child's -X importtime report to this file")
    args = parser.parse_args(argv)
    for _ in range(args.repeats):
        result = measure_idle(idle=args.idle, rate=args.rate, importtime=args.importtime)
        m = result["memory_mb"]
        print(f"mdi run idle {args.idle:g}s: RSS {m['VmRSS']:.1f} MB (peak {m['VmHWM']:.1f}, anon {m.get('RssAnon', 0):.1f}, "
              f"file {m.get('RssFile', 0):.1f}, Pss {m.get('Pss', 0):.1f}), {int(m.get('Threads', 0))} threads, "
              f"status {result['status']}", file=sys.stderr)
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
