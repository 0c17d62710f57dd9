"""The side-by-side benchmark's own machinery, offline: the blast server speaks each venue's
protocol to mdi and to the raw-ceiling client, and both count exactly the events sent (a run
whose count differs is marked invalid, so the figures can be trusted). cryptofeed itself is not
installed by the suite (its venv needs PyPI); ``python -m bench --peer cryptofeed`` runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.peer.run import PEER_SUPPORTED, _env, baseline_tree, run_peer, summarize


@pytest.mark.parametrize("venue", PEER_SUPPORTED)
def test_mdi_and_the_raw_ceiling_count_every_blasted_event(venue: str) -> None:
    report = run_peer([venue], runs=1, events=5_000, configs=("raw", "mdi-ingest"))
    runs = report["runs"]
    assert [r["config"] for r in runs] == ["raw", "mdi-ingest"]
    for r in runs:
        assert r["events"] == 5_000 and r["frames"] >= 5_000 / 3
        assert r["counted"] == r["events"] and r["valid"], r
        assert r["events_per_s"] > 0 and r["cpu_us_per_event"] >= 0  # /proc ticks are 10 ms: a short run can read 0
    ratios = report["summary"][venue]["ratios"]
    assert ratios["ingest_vs_raw_ceiling"] is not None and ratios["ingest_vs_cryptofeed_events"] is None


def test_invalid_runs_stay_out_of_the_medians() -> None:
    good = {"venue": "coinbase", "valid": True, "events_per_s": 100.0, "cpu_us_per_event": 5.0}
    runs = [{**good, "config": "raw"}, {**good, "config": "mdi-ingest", "events_per_s": 50.0},
            {**good, "config": "mdi-ingest", "events_per_s": 1e9, "valid": False}]
    summary = summarize(runs)["coinbase"]
    assert summary["medians"]["mdi-ingest"]["events_per_s"] == 50.0
    assert summary["ratios"]["ingest_vs_raw_ceiling"] == 0.5


def test_baseline_runs_mdi_from_the_given_commit_alternating() -> None:
    """``--baseline REF``: each mdi config runs again from REF's files, right after this
    checkout's, and the summary holds the after/before ratios."""
    report = run_peer(["binance"], runs=1, events=3_000, configs=("mdi-ingest",), baseline="HEAD")
    runs = report["runs"]
    assert [r["config"] for r in runs] == ["mdi-ingest", "mdi-ingest@base"]
    assert all(r["valid"] and r["rss_mb_idle"] > 10 for r in runs), runs
    assert report["baseline_commit"] and len(report["baseline_commit"]) == 40
    assert report["summary"]["binance"]["vs_baseline"]["ingest_events"] is not None


def test_a_baseline_tree_is_what_the_child_imports(tmp_path: Path) -> None:
    tree = baseline_tree("HEAD", tmp_path / "base")
    out = subprocess.run([sys.executable, "-c", "import mdi, mdi_kraken; print(mdi.__file__); print(mdi_kraken.__file__)"],
                         env=_env(tree), capture_output=True, text=True, check=True).stdout.split()
    assert all(Path(p).is_relative_to(tree) for p in out), out
