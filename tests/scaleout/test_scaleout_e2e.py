"""Three ``mdi demo`` instances, each with its own venue, write one lake on an S3-compatible
server (moto, its own process) and one 6-node Redis Cluster. Mid-run one instance is killed
with SIGKILL and restarted, and one Redis master is killed. Then: no (instance, seq) twice
anywhere, the restarted instance continued above what its lake held, the instances stopped in
order have every sequence number they gave out exactly once, one DuckDB statement counts
every row (and agrees with pyarrow.dataset and the files' own row counts), and every
instance's Redis keys are fresh again after the failover."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.dataset as ds
import pytest

from mdi.testing.redis_cluster import RedisClusterRunner
from mdi.testing.s3_server import S3ServerProcess

SHARDS = {"shard-a": "kraken", "shard-b": "coinbase", "shard-c": "binance"}
LATEST_KEY = {
    "kraken": "spot_bbo:kraken:BTC-USD",
    "coinbase": "spot_bbo:coinbase:BTC-USD",
    "binance": "mark_price:binance:BTC-USDT-PERP",
}
BUCKET = "mdi-lake"
ROOT = f"s3://{BUCKET}/lake"


@pytest.fixture
def s3_process() -> Iterator[S3ServerProcess]:
    with S3ServerProcess() as server:
        server.create_bucket(BUCKET)
        yield server


def shard_config(tmp_path: Path, instance: str, venue: str, redis_url: str) -> Path:
    path = tmp_path / f"{instance}.toml"
    path.write_text(f"""
[service]
instance = "{instance}"
[connectors.{venue}]
[sinks.parquet]
root = "{ROOT}"
flush_interval = 0.5
backoff_initial = 0.1
backoff_max = 1.0
[sinks.redis]
url = "{redis_url}"
cluster = true
flush_interval = 0.05
health_interval = 0.3
connect_timeout = 0.5
command_timeout = 0.5
backoff_initial = 0.05
backoff_max = 0.5
[http]
port = 0
[logging]
level = "WARNING"
""")
    return path


class Shard:
    """One ``mdi demo`` process; its stderr goes to a file (read on failure)."""

    def __init__(self, config: Path, env: dict[str, str], log: Path) -> None:
        self.config, self.env, self.log = config, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mdi.cli", "demo", str(self.config), "--rate", "40", "--use-configured-sinks"],
                stdout=subprocess.DEVNULL, stderr=err, env=self.env,
            )

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 60) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def health_url(self) -> str | None:
        found = re.findall(r"health at (http://\S+/health)", self.log.read_text(errors="replace"))
        return found[-1] if found else None


def wait_for(condition: Any, timeout: float, what: str, shards: list[Shard]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    logs = "\n".join(f"--- {s.config.stem}\n{s.log.read_text(errors='replace')[-1500:]}" for s in shards)
    raise AssertionError(f"not within {timeout} s: {what}\n{logs}")


def lake(con: duckdb.DuckDBPyConnection, select: str) -> list[tuple[Any, ...]]:
    """``select`` over every file of every stream and instance: one statement."""
    source = f"read_parquet('{ROOT}/v1/*/*/*/*.parquet', union_by_name = true, hive_partitioning = true)"
    return con.execute(select.replace("LAKE", source)).fetchall()


def instance_files(s3: S3ServerProcess, instance: str) -> list[str]:
    pages = s3.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="lake/v1/")
    return [o["Key"] for p in pages for o in p.get("Contents", []) if f"/part-{instance}-" in o["Key"]]


def max_seq_in_names(keys: list[str]) -> int:
    return max((int(k.rsplit("-", 1)[1].split(".")[0]) for k in keys), default=0)


def fresh(client: Any, instance: str, venue: str, since_ns: int) -> bool:
    """The instance's latest-value key and health record were both written after ``since_ns``."""
    try:
        value = client.get(f"md:v1:{{{instance}}}:{LATEST_KEY[venue]}")
        health = client.get(f"md:v1:{{{instance}}}:health")
    except Exception:  # noqa: BLE001 - the slot may be between masters for a moment
        return False
    return bool(value and health) and json.loads(value)["ts_recv"] > since_ns and json.loads(health)["ts"] > since_ns


def test_three_instances_one_bucket_one_cluster_survive_kill_9_and_a_master_failover(
    tmp_path: Path, s3_process: S3ServerProcess, redis_cluster: RedisClusterRunner
) -> None:
    env = {**os.environ, **s3_process.env()}
    shards = {
        name: Shard(shard_config(tmp_path, name, venue, redis_cluster.url), env, tmp_path / f"{name}.log")
        for name, venue in SHARDS.items()
    }
    every = list(shards.values())
    cluster = redis_cluster.client()
    killed_master = None
    try:
        for shard in every:
            shard.start()
        wait_for(lambda: all(instance_files(s3_process, n) for n in SHARDS), 60, "every instance has a file", every)

        # kill -9 one instance; what it left in the lake is its watermark
        shards["shard-b"].signal(signal.SIGKILL)
        shards["shard-b"].wait()
        left_by_killed = max_seq_in_names(instance_files(s3_process, "shard-b"))
        assert left_by_killed > 0

        # kill the Redis master that serves one instance's keys
        before_failover = time.time_ns()
        killed_master = redis_cluster.master_of("md:v1:{shard-a}:health")
        redis_cluster.kill(killed_master)

        shards["shard-b"].start()  # restarted on the same lake
        wait_for(lambda: max_seq_in_names(instance_files(s3_process, "shard-b")) > left_by_killed + 20, 60,
                 "the restarted instance writes again", every)
        redis_cluster.wait_healthy()
        wait_for(lambda: all(fresh(cluster, n, v, before_failover) for n, v in SHARDS.items()), 30,
                 "every instance's Redis keys are fresh again", every)
    finally:
        for shard in every:
            if shard.proc is not None and shard.proc.poll() is None:
                shard.signal(signal.SIGTERM)
        codes = {name: shard.wait() for name, shard in shards.items()}
        if killed_master is not None:
            redis_cluster.restart(killed_master)  # 3 + 3 again for whoever comes next
    assert codes == {name: 0 for name in SHARDS}, codes

    con = duckdb.connect()
    con.register_filesystem(s3_process.s3fs())
    ((rows,),) = lake(con, "SELECT count(*) FROM LAKE")
    ((duplicates,),) = lake(con, "SELECT count(*) - count(DISTINCT (instance, seq)) FROM LAKE")
    assert duplicates == 0
    per_instance = {i: (n, lo, hi) for i, n, lo, hi in lake(con, "SELECT instance, count(*), min(seq), max(seq) FROM LAKE GROUP BY ALL")}
    assert set(per_instance) == set(SHARDS)
    for name in ("shard-a", "shard-c"):  # stopped in order: every seq it gave out, exactly once
        count, first, last = per_instance[name]
        assert (count, first) == (last, 1), (name, per_instance[name])
    # The restarted instance continued right above what its lake held, and everything it gave out
    # since (it was stopped in order) is there exactly once.
    after = lake(con, f"SELECT count(*), min(seq), max(seq) FROM LAKE WHERE instance = 'shard-b' AND seq > {left_by_killed}")
    count, first, last = after[0]
    assert first == left_by_killed + 1 and count == last - left_by_killed

    # The same total through pyarrow.dataset (one call per stream schema) and the files' footers.
    fs = s3_process.pyarrow_fs()
    streams = [info.base_name for info in fs.get_file_info(fs_selector(f"{BUCKET}/lake/v1")) if info.type.name == "Directory"]
    via_arrow = sum(
        ds.dataset(f"{BUCKET}/lake/v1/{s}", filesystem=fs, format="parquet", partitioning="hive").count_rows()
        for s in streams
    )
    assert via_arrow == rows
    assert rows > 100
    print(f"\nlake: {rows} rows; per instance (rows, min seq, max seq): {per_instance}; shard-b left {left_by_killed} at kill -9")


def fs_selector(path: str) -> Any:
    from pyarrow.fs import FileSelector

    return FileSelector(path)
