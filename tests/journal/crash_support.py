"""Real processes for the crash tests: ``mdi run`` on a config file (its health URL read from
its stderr), the benchmark's venue simulators in their own process, a recorder of the Redis
Pub/Sub notifications, and the lake read back with DuckDB.

Every wait polls a condition against a generous deadline: the machine may be loaded."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import duckdb
import httpx
import redis

from bench.full import REPO, VENUES, to_toml

MDI = Path(sys.executable).with_name("mdi")
HEALTH_LINE = re.compile(r"health at (http://\S+)/health")


def crash_config(urls: dict[str, str], lake: Path, journal: Path, redis_url: str, fsync_interval: float) -> str:
    """The shipped config.toml on the simulators, with a temporary lake and journal. Parquet keeps
    its shipped ``flush_interval`` (60 s): at a kill, the slow streams are only in the journal."""
    doc = tomllib.loads((REPO / "config.toml").read_text())
    for name in VENUES:
        doc["connectors"][name].update(url=urls[name], transport="picows")
    doc["connectors"]["deribit"]["max_instruments"] = 30
    doc["pipeline"]["iv_surface"]["interval"] = 1.0
    doc["sinks"]["parquet"]["root"] = str(lake)
    doc["sinks"]["redis"].update(url=redis_url, latest_trade=True)
    doc["journal"].update(root=str(journal), fsync_interval=fsync_interval)
    doc["http"]["port"] = 0
    doc["logging"] = {"level": "INFO", "format": "json"}
    return to_toml(doc)


def wait_for(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)
    return result


class MdiRun:
    """``mdi run CONFIG`` as a child process (stderr to a log file)."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log = log
        self._file = log.open("w")
        self.proc = subprocess.Popen([str(MDI), "run", str(config)], stdout=subprocess.DEVNULL, stderr=self._file, cwd=config.parent)
        self.url: str = wait_for(self._health_url, 90, f"the health URL in {log}")

    def _health_url(self) -> str | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"mdi run exited with {self.proc.returncode}: {self.log.read_text()[-3000:]}")
        found = HEALTH_LINE.search(self.log.read_text())
        return found.group(1) if found else None

    def health(self) -> tuple[int, dict[str, Any]]:
        response = httpx.get(f"{self.url}/health", timeout=10)
        return response.status_code, response.json()

    def metric(self, name: str, sink: str = "journal") -> float:
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        found = re.search(rf'^{name}\{{sink="{sink}"\}} (\S+)$', text, re.M)
        return float(found.group(1)) if found else 0.0

    def wait_live(self, timeout: float = 90) -> None:
        def live() -> bool:
            _, body = self.health()
            return len(body["venues"]) == len(VENUES) and all(v["state"] == "live" for v in body["venues"].values())

        wait_for(live, timeout, "every venue live", every=0.2)

    def stop(self, timeout: float = 120) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        finally:
            self._file.close()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(30)
        self._file.close()


@dataclass
class Published:
    key: str
    seq: int
    at: float  # monotonic time the notification was received


@dataclass
class PubSubRecorder:
    """Every ``<prefix>:updates`` notification, in a thread, with the time it arrived."""

    client: redis.Redis
    channel: str = "md:v1:updates"
    seen: list[Published] = field(default_factory=list)
    _halt: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> PubSubRecorder:
        pubsub = self.client.pubsub()
        pubsub.subscribe(self.channel)
        wait_for(lambda: pubsub.get_message(timeout=0.1), 10, "the subscription")

        def run() -> None:
            while not self._halt.is_set():
                message = pubsub.get_message(timeout=0.1)
                if message and message["type"] == "message":
                    body = json.loads(message["data"])
                    self.seen.append(Published(body["key"], int(body["seq"]), time.monotonic()))
            pubsub.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(10)

    def kinds(self, before: float = float("inf"), after: float = 0.0) -> set[str]:
        """The key kinds (``spot_bbo``, ``mark_price``...) notified between ``after`` and ``before``."""
        return {p.key.split(":")[2] for p in list(self.seen) if after < p.at < before}


def lake_rows(lake: Path) -> list[tuple[str, int, int]]:
    """(stream, seq, ts_recv) of every row in the lake, read with DuckDB."""
    files = sorted(lake.glob("v1/*/date=*/hour=*/*.parquet"))
    if not files:
        return []
    paths = [str(f) for f in files]
    query = "SELECT filename, seq, epoch_ns(ts_recv) FROM read_parquet(?, union_by_name=true, filename=true, hive_partitioning=false)"
    with duckdb.connect() as db:
        rows = db.execute(query, [paths]).fetchall()
    return [(Path(name).relative_to(lake / "v1").parts[0], int(seq), int(ts)) for name, seq, ts in rows]
