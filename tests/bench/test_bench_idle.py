"""``python -m bench.idle`` measures a real ``mdi run``: the shipped graph, every venue live
against its simulator, the memory read from /proc. The figure itself is not checked (it depends
on the build, the wheels and the allocator); that it is a real, consistent reading is."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from bench.idle import VENUES, idle_config, main, measure_idle


def test_idle_reports_the_memory_of_a_live_idle_mdi_run() -> None:
    result = measure_idle(idle=1.0)
    mem = result["memory_mb"]
    assert result["venues"] == {v: "live" for v in VENUES}
    assert result["status"] == "ok" and result["exit_code"] == 0
    assert result["rss_mb"] == mem["VmRSS"] > 10  # more than a bare interpreter: it ran the graph
    assert mem["VmHWM"] >= mem["VmRSS"]
    assert abs(mem["RssAnon"] + mem["RssFile"] - mem["VmRSS"]) < 0.1 * mem["VmRSS"]  # plus RssShmem, small
    assert mem["Threads"] >= 2  # the event loop and at least one writer thread


def test_the_config_is_the_shipped_one_redirected() -> None:
    settings = {v: {"url": f"ws://127.0.0.1:1/{v}"} for v in VENUES}
    doc = tomllib.loads(idle_config(settings, Path("/w"), "redis://127.0.0.1:2/0"))
    assert {v: doc["connectors"][v]["url"] for v in VENUES} == {v: f"ws://127.0.0.1:1/{v}" for v in VENUES}
    assert doc["sinks"]["parquet"]["root"] == "/w/lake" and doc["sinks"]["redis"]["url"] == "redis://127.0.0.1:2/0"
    assert doc["journal"] == {**doc["journal"], "enabled": True, "root": "/w/journal"}
    assert doc["capture"] == {**doc["capture"], "enabled": True, "root": "/w/capture"}
    assert set(doc["pipeline"]) == {"spot_mid", "iv_surface"} and doc["http"]["port"] == 0


def test_the_command_prints_one_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--idle", "0.5"]) == 0
    out = capsys.readouterr()
    line = json.loads(out.out.strip())
    assert line["rss_mb"] > 10 and "RSS" in out.err
