"""The whole product as a user runs it: `mdi demo` (all four venue simulators, both pipelines,
Parquet and a real Redis) in a real process, then the lake read back with DuckDB and the cache
read back with redis-py."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from mdi.testing.redis_server import RedisServer
from demo_support import demo_toml

STREAMS = {"bbo", "trade", "option_ticker", "vol_index", "mark_price", "status", "spot_mid_1s", "iv_surface_snapshot"}


def demo_config(tmp_path: Path, redis_url: str) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(demo_toml(tmp_path / "lake", sections=f'[sinks.redis]\nurl = "{redis_url}"\nhealth_interval = 0.5'))
    return cfg


@pytest.fixture
def redis_server():  # type: ignore[no-untyped-def]
    with RedisServer() as server:
        yield server


def test_demo_records_every_stream_to_parquet_and_redis(tmp_path: Path, redis_server: RedisServer) -> None:
    cfg = demo_config(tmp_path, redis_server.url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mdi.cli", "demo", str(cfg), "--rate", "50"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        health_url = None
        deadline = time.monotonic() + 30
        lines: list[str] = []
        assert proc.stderr is not None
        while health_url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            match = re.search(r"health at (http://\S+)/health", line)
            if match:
                health_url = match.group(1)
        assert health_url, "".join(lines)
        # Isolated by default (issue #11): its own lake root and key prefix, printed at start.
        lake_root, prefix = tmp_path / "lake-demo", "demo:md:v1"
        announced = "".join(lines)
        assert f"sinks.parquet.root = '{lake_root}'" in announced and f"sinks.redis.prefix = '{prefix}'" in announced
        # Wait until every venue is live and a few derived events were made, then stop in order.
        client = redis_server.client()
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            health = httpx.get(f"{health_url}/health").json()
            venues_live = all(v["state"] == "live" for v in health["venues"].values()) and len(health["venues"]) == 4
            if venues_live and client.exists(f"{prefix}:spot_mid") and client.keys(f"{prefix}:iv_surface:*"):
                break
            time.sleep(0.3)
        else:
            proc.kill()
            raise AssertionError(f"not all live: {health}")
        # The health record expires (3 health intervals) once the service is gone: read it while it runs.
        health_record = json.loads(client.get(f"{prefix}:health"))
        metrics = httpx.get(f"{health_url}/metrics").text
        assert 'mdi_venue_frames_total{venue="kraken"}' in metrics
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:  # a failed assertion must not leave the demo running (it would outlive the suite)
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert not (tmp_path / "lake").exists()  # the configured lake got no simulated trade
    assert not client.keys("md:v1:*")  # nor the configured key prefix
    lake = lake_root / "v1"
    assert STREAMS <= {p.name for p in lake.iterdir()}
    assert not list(lake.rglob("*.tmp"))
    con = duckdb.connect()
    seqs: list[int] = []
    for stream in STREAMS:
        rows = con.execute(
            f"SELECT seq FROM read_parquet('{lake}/{stream}/**/*.parquet', hive_partitioning=true)"
        ).fetchall()
        assert rows, stream
        seqs += [r[0] for r in rows]
    assert len(seqs) == len(set(seqs))  # every sequence number once, across streams
    venues = {r[0] for r in con.execute(f"SELECT DISTINCT venue FROM read_parquet('{lake}/bbo/**/*.parquet', hive_partitioning=true)").fetchall()}
    assert venues == {"kraken", "coinbase"}
    quality = con.execute(
        f"SELECT quality, count(*) FROM read_parquet('{lake}/spot_mid_1s/**/*.parquet', hive_partitioning=true) GROUP BY 1"
    ).fetchall()
    assert dict(quality).get("Ok", 0) >= 1, quality

    spot = json.loads(client.get(f"{prefix}:spot_mid"))
    assert spot["kind"] == "spot_mid_1s" and isinstance(spot["mid"], str)
    assert client.exists(f"{prefix}:spot_bbo:kraken:BTC-USD", f"{prefix}:spot_bbo:coinbase:BTC-USD") == 2
    assert client.exists(f"{prefix}:mark_price:binance:BTC-USDT-PERP") == 1
    assert client.exists(f"{prefix}:dvol:deribit") == 1
    assert client.xlen(f"{prefix}:spot_mid:window") >= 1
    assert health_record["service"]["venues"]["kraken"]["state"] in {"live", "subscribed", "connecting", "backoff"}


def test_demo_without_redis_degrades_only_the_redis_sink(tmp_path: Path) -> None:
    absent = RedisServer()  # never started: its port refuses connections
    try:
        cfg = demo_config(tmp_path, absent.url)
        result = subprocess.run(
            [sys.executable, "-m", "mdi.cli", "demo", str(cfg), "--duration", "4", "--rate", "50", "--use-configured-sinks"],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        absent.close()
    assert result.returncode == 0, result.stderr
    assert "stopped cleanly" in result.stderr
    assert "isolated" not in result.stderr
    assert "redis sink degraded" in result.stderr
    lake = tmp_path / "lake" / "v1"  # --use-configured-sinks: the configured lake
    rows = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{lake}/bbo/**/*.parquet', hive_partitioning=true)").fetchall()
    assert rows[0][0] > 50


@pytest.mark.parametrize(("key", "value", "isolated"), [
    ("root", "./data", "data-demo"),
    ("root", "/srv/lake/", "/srv/lake-demo"),
    ("root", "s3://mdi-lake/lake", "s3://mdi-lake/lake-demo"),  # no Path folding of '//'
    ("root", "s3://mdi-lake/lake/", "s3://mdi-lake/lake-demo"),
    ("prefix", "md:v1", "demo:md:v1"),
    ("prefix", "demo:md:v1", "demo:md:v1"),
])
def test_demo_sink_values(key: str, value: str, isolated: str) -> None:
    from mdi.cli.demo_cmd import demo_value

    assert demo_value(key, value) == isolated


def test_demo_isolates_the_journal_and_the_capture_too(tmp_path: Path) -> None:
    """The journal holds what recovery writes into the lake at the next start: a demo sharing the
    live run's journal would put simulated trades into the real lake."""
    from mdi.cli.demo_cmd import isolate_sinks
    from mdi.config import load_config
    from mdi.plugins import build_plugin_host

    cfg = tmp_path / "config.toml"
    cfg.write_text(f"""
[connectors.kraken]
[sinks.parquet]
root = "{tmp_path / 'data'}"
[journal]
enabled = true
root = "{tmp_path / 'journal'}"
[capture]
enabled = true
root = "{tmp_path / 'capture'}"
""")
    config = load_config(cfg)
    changed = isolate_sinks(config, build_plugin_host())
    assert config.journal.root == str(tmp_path / "journal-demo") and config.capture.root == str(tmp_path / "capture-demo")
    assert f"journal.root = {str(tmp_path / 'journal-demo')!r}" in changed
    assert f"sinks.parquet.root = {str(tmp_path / 'data-demo')!r}" in changed
