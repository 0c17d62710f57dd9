"""/health snapshot values and the status rules (overall status vs HTTP code)."""

from __future__ import annotations

import json
from typing import Callable

import pytest

from ops_support import NOW_NS, build_service, fixed_clock
from mdi.health import assess, http_status, snapshot
from mdi.stats import ComponentStats, ServiceStats, SinkStats, VenueStats


def nominal() -> ServiceStats:
    """Everything healthy: one live venue, both sinks ok, components running."""
    venue = VenueStats(name="kraken", state="live", last_data_ns=NOW_NS - 200_000_000)
    comps = [ComponentStats(name="kraken", kind="connector", state="running"),
             ComponentStats(name="spot_mid", kind="pipeline", state="running")]
    return ServiceStats(
        started_ns=NOW_NS - 5_000_000_000, state="running", venues={"kraken": venue},
        sinks={"parquet": SinkStats(name="parquet", delivery="durable"), "redis": SinkStats(name="redis", delivery="best_effort")},
        components={f"{c.kind}:{c.name}": c for c in comps},
    )


@pytest.mark.anyio
async def test_snapshot_values() -> None:
    doc = snapshot(build_service(), clock=fixed_clock)
    assert json.loads(json.dumps(doc)) == doc  # plain JSON types only
    assert doc["service_state"] == "running"
    assert doc["uptime_s"] == 100.0
    assert doc["venues"]["kraken"] == {
        "state": "live", "component_state": "running", "last_data_age_s": 1.5, "reconnects": 1, "restarts": 0,
        "last_error": "", "rejected": [], "frames": 120, "events": 300, "parse_errors": 2, "gaps": 1,
        "invalid": {}, "ignored": 0,
        "repairs": {"in_progress": 0, "queued": 0, "trades_backfilled": 0, "repaired": 0, "partly_repaired": 0,
                    "unrepaired": 0},
    }
    coinbase = doc["venues"]["coinbase"]
    assert coinbase["state"] == "backoff"
    assert coinbase["component_state"] == "restarting"
    assert coinbase["last_data_age_s"] is None
    assert (coinbase["reconnects"], coinbase["restarts"]) == (3, 2)
    assert coinbase["last_error"] == "connection refused"
    assert coinbase["rejected"] == ["BTC-XYZ: unknown product"]
    # queue depth = router inbox (7 events) + the sink's own buffer (12); drops = router + dropped_*
    assert doc["sinks"]["parquet"] == {"state": "ok", "delivery": "durable", "queue_depth": 19, "drops": 0, "detail": ""}
    assert doc["sinks"]["redis"] == {"state": "degraded", "delivery": "best_effort", "queue_depth": 0, "drops": 38, "detail": "reconnecting"}
    assert doc["pipelines"] == {"spot_mid": {"state": "running", "restarts": 1, "last_error": ""}}
    assert doc["status"] == "degraded"
    assert doc["reasons"] == [
        "sink redis (best_effort) is degraded: reconnecting",
        "venue coinbase is backoff",
        "venue coinbase rejected 1 subscription(s)",
        "connector coinbase is restarting",
    ]


@pytest.mark.anyio
async def test_supervisor_failure_shows_on_the_venue() -> None:
    service = build_service()
    service.components["connector:coinbase"].state = "failed"
    doc = snapshot(service, clock=fixed_clock)
    assert doc["venues"]["coinbase"]["state"] == "failed"  # VenueStats still says backoff
    assert doc["venues"]["coinbase"]["last_error"] == "connection refused"
    assert "connector coinbase is failed" in doc["reasons"]


def test_nominal_is_ok() -> None:
    service = nominal()
    doc = snapshot(service, clock=fixed_clock)
    assert (doc["status"], doc["reasons"], http_status(service)) == ("ok", [], 200)
    assert doc["venues"]["kraken"]["last_data_age_s"] == 0.2


def _set(path: str, value: object) -> Callable[[ServiceStats], None]:
    def apply(service: ServiceStats) -> None:
        kind, name, attr = path.split(".")
        setattr(getattr(service, kind)[name], attr, value)

    return apply


def _service_state(state: str) -> Callable[[ServiceStats], None]:
    def apply(service: ServiceStats) -> None:
        service.state = state  # type: ignore[assignment]

    return apply


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (_set("sinks.parquet.state", "degraded"), "degraded", 503),  # durable not ok -> 503
        (_set("sinks.parquet.state", "down"), "down", 503),
        (_set("sinks.redis.state", "down"), "degraded", 200),  # best effort never fails the endpoint
        (_set("venues.kraken.state", "stale"), "degraded", 200),
        (_set("venues.kraken.state", "failed"), "down", 200),  # every venue failed; the lake is fine
        (_set("components.connector:kraken.state", "failed"), "down", 200),
        (_set("components.pipeline:spot_mid.state", "failed"), "degraded", 200),
        (_set("components.pipeline:spot_mid.state", "restarting"), "degraded", 200),
        (_service_state("starting"), "down", 503),
        (_service_state("stopping"), "down", 503),
        (_service_state("stopped"), "down", 503),
    ],
)
def test_status_rules(change: Callable[[ServiceStats], None], status: str, code: int) -> None:
    service = nominal()
    change(service)
    got, reasons = assess(service)
    assert (got, http_status(service)) == (status, code)
    assert reasons  # never "not ok" without saying why


def test_one_failed_venue_of_two_is_degraded() -> None:
    service = nominal()
    service.venues["deribit"] = VenueStats(name="deribit", state="failed")
    assert assess(service) == ("degraded", ["venue deribit is failed"])


def test_no_venues_and_no_sinks_running_is_ok() -> None:
    service = ServiceStats(started_ns=NOW_NS, state="running")
    assert (assess(service), http_status(service)) == (("ok", []), 200)
