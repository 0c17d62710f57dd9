"""``python -m bench --quick`` end to end: two real processes (simulators, the service), a real
redis-server, a real lake; the result JSON has every key with sane values. No speed threshold:
speed is what the benchmark reports, not what a test asserts."""

from __future__ import annotations

import json
from pathlib import Path

from bench.cli import main

LATENCIES = ("receive_to_router", "receive_to_redis", "receive_to_parquet", "receive_to_parquet_whole_run")


def test_quick_run_writes_a_complete_and_consistent_result(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    report = main(["--quick", "--out", str(out)])
    data = json.loads(out.read_text())
    assert data["date"] == report["date"]
    assert {"date", "machine", "options", "scenarios", "components", "goals"} <= set(data)
    assert data["options"]["quick"] is True and data["options"]["seconds"] == 2.0
    assert data["machine"]["cpus"] >= 1

    (run,) = data["scenarios"]
    assert (run["scenario"], run["transport"], run["offered_events_per_s"]) == ("picows-max", "picows", "max")
    assert run["exit_code"] == 0
    assert run["events_per_s"] > 0 and run["blasted_events_per_s"] > 0 and run["blasted_frames_per_s"] > 0
    assert run["events_per_s"] >= run["blasted_events_per_s"] * 0.9  # the blasted venue is most of it
    assert run["cpu_us_per_event"] > 0 and run["cpu_cores"]["mdi"] > 0

    for name in LATENCIES:
        assert set(run["latency_ms"][name]) == {"p50", "p99", "p999", "samples", "observed"}
    router = run["latency_ms"]["receive_to_router"]
    assert router["samples"] > 0 and 0 <= router["p50"] <= router["p99"] <= router["p999"]
    parquet = run["latency_ms"]["receive_to_parquet_whole_run"]
    assert parquet["samples"] > 0 and 0 < parquet["p50"] <= parquet["p999"]

    rss = run["rss_mb"]
    assert 0 < rss["before_load"] <= rss["peak"] and rss["after_run"] > 0 and rss["samples"]

    loss = run["loss"]
    assert loss["lossless"] is True and loss["received_all"] is True and loss["tmp_files"] == 0
    assert loss["sent_events"] == loss["received_events"] == loss["lake_venue_rows"] > 0
    assert loss["lake_rows"] == loss["routed_total"] == loss["lake_distinct_seq"]
    assert run["lake"]["rows_by_stream"]["bbo"] > 0 and run["lake"]["rows_by_stream"]["trade"] > 0
    assert run["sinks"]["parquet"]["rows"] == loss["lake_rows"]

    goals = {g["goal"]: g for g in data["goals"]}
    assert goals["nothing lost (every scenario)"]["met"] is True
    assert goals["picows events/s"]["measured"] == run["events_per_s"]
    assert goals["httpx-ws events/s"]["met"] is None  # not run in a quick run


def test_results_go_outside_the_checkout_by_default() -> None:
    from datetime import datetime, timezone

    from bench.cli import default_out
    from bench.full import REPO

    out = default_out(datetime(2026, 12, 1, tzinfo=timezone.utc), quick=True)
    assert out.name == "2026-12-01-quick.json"
    assert REPO.resolve() not in out.resolve().parents
