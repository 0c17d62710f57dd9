"""The side-by-side benchmark's own machinery, offline: the blast server speaks each venue's
protocol to mdi and to the raw-ceiling client, and both count exactly the events sent (a run
whose count differs is marked invalid, so the figures can be trusted). cryptofeed itself is not
installed by the suite (its venv needs PyPI); ``python -m bench --peer cryptofeed`` runs it."""

from __future__ import annotations

import pytest

from bench.peer.run import PEER_SUPPORTED, run_peer, summarize


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
