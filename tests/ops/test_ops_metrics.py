"""/metrics scraped over real HTTP from serve_http and parsed with prometheus_client's parser."""

from __future__ import annotations

import logging

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ops_support import NOW_NS, Samples, build_service, fixed_clock, parse_samples, serving
from mdi.metrics import build_registry
from mdi.stats import ServiceStats, SinkStats

pytestmark = pytest.mark.anyio


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


async def scrape(url: str) -> tuple[httpx.Response, Samples]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{url}/metrics")
    return response, parse_samples(response.text)


async def test_scrape_content_type_and_types() -> None:
    async with serving(build_service()) as url:
        response, _ = await scrape(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    types = {f.name: f.type for f in text_string_to_metric_families(response.text)}
    assert types["mdi_venue_frames"] == "counter"
    assert types["mdi_venue_last_data_age_seconds"] == "gauge"
    assert types["mdi_venue_exchange_latency_seconds"] == "histogram"
    assert types["mdi_sink_rows_written"] == "counter"
    assert types["mdi_sink_open_files"] == "gauge"
    assert "process_resident_memory_bytes" in types  # standard process collector is included


# (sample name, labels, value) expected from ops_support.build_service(), scraped at NOW_NS.
VENUES = [
    ("mdi_venue_frames_total", {"venue": "kraken"}, 120),
    ("mdi_venue_events_total", {"venue": "kraken"}, 300),
    ("mdi_venue_parse_errors_total", {"venue": "kraken"}, 2),
    ("mdi_venue_reconnects_total", {"venue": "coinbase"}, 3),
    ("mdi_venue_gaps_total", {"venue": "kraken"}, 1),
    ("mdi_venue_subscription_rejections_total", {"venue": "coinbase"}, 1),
    ("mdi_venue_duplicates_total", {"venue": "kraken"}, 4),
    ("mdi_venue_last_data_age_seconds", {"venue": "kraken"}, 1.5),
    ("mdi_venue_last_data_age_seconds", {"venue": "coinbase"}, 100.0),  # never had data: since start
    ("mdi_venue_last_data_timestamp_seconds", {"venue": "kraken"}, (NOW_NS - 1_500_000_000) / 1e9),
    ("mdi_venue_last_data_timestamp_seconds", {"venue": "coinbase"}, 0),
    ("mdi_venue_state", {"venue": "kraken", "state": "live"}, 1),
    ("mdi_venue_state", {"venue": "kraken", "state": "backoff"}, 0),
    ("mdi_venue_state", {"venue": "coinbase", "state": "backoff"}, 1),
    ("mdi_venue_state", {"venue": "coinbase", "state": "live"}, 0),
    # exchange latency observations: 0.003, 0.02, 0.2 s
    ("mdi_venue_exchange_latency_seconds_bucket", {"venue": "kraken", "le": "0.0025"}, 0),
    ("mdi_venue_exchange_latency_seconds_bucket", {"venue": "kraken", "le": "0.005"}, 1),
    ("mdi_venue_exchange_latency_seconds_bucket", {"venue": "kraken", "le": "0.025"}, 2),
    ("mdi_venue_exchange_latency_seconds_bucket", {"venue": "kraken", "le": "0.25"}, 3),
    ("mdi_venue_exchange_latency_seconds_bucket", {"venue": "kraken", "le": "+Inf"}, 3),
    ("mdi_venue_exchange_latency_seconds_count", {"venue": "kraken"}, 3),
    ("mdi_venue_exchange_latency_seconds_sum", {"venue": "kraken"}, pytest.approx(0.223)),
    ("mdi_venue_exchange_latency_seconds_count", {"venue": "coinbase"}, 0),
]
ROUTER = [
    ("mdi_router_events_routed_total", {}, 1000),
    ("mdi_router_batches_total", {}, 10),
    ("mdi_router_derived_routed_total", {}, 50),
    ("mdi_router_derived_dropped_total", {}, 5),
    ("mdi_router_drops_total", {"target": "sink:redis", "reason": "full"}, 30),
    ("mdi_router_drops_total", {"target": "derived", "reason": "full"}, 5),
    ("mdi_router_last_seq", {}, 123456),
    ("mdi_router_latency_seconds_count", {}, 2),
    ("mdi_router_latency_seconds_bucket", {"le": "0.00025"}, 1),
    ("mdi_channel_depth_events", {"channel": "ingress"}, 3),
    ("mdi_channel_depth_events", {"channel": "sink:parquet"}, 7),
    ("mdi_channel_depth_events", {"channel": "sink:redis"}, 0),
    ("mdi_channel_capacity_events", {"channel": "ingress"}, 100),
    ("mdi_channel_capacity_events", {"channel": "sink:parquet"}, 50),
]
SINKS = [
    ("mdi_sink_rows_written_total", {"sink": "parquet"}, 900),
    ("mdi_sink_files_written_total", {"sink": "parquet"}, 3),
    ("mdi_sink_commands_total", {"sink": "redis"}, 40),
    ("mdi_sink_dropped_backpressure_total", {"sink": "redis"}, 8),
    ("mdi_sink_open_files", {"sink": "parquet"}, 2),
    ("mdi_sink_keys", {"sink": "redis"}, 17),
    ("mdi_sink_state", {"sink": "redis", "state": "degraded"}, 1),
    ("mdi_sink_state", {"sink": "redis", "state": "ok"}, 0),
    ("mdi_sink_state", {"sink": "parquet", "state": "ok"}, 1),
    ("mdi_sink_info", {"sink": "parquet", "delivery": "durable"}, 1),
    ("mdi_sink_info", {"sink": "redis", "delivery": "best_effort"}, 1),
    ("mdi_sink_queue_depth_events", {"sink": "parquet"}, 12),
    ("mdi_sink_latency_seconds_count", {"sink": "parquet"}, 2),
    ("mdi_sink_latency_seconds_sum", {"sink": "parquet"}, pytest.approx(4.6)),
    ("mdi_sink_latency_seconds_bucket", {"sink": "parquet", "le": "2.5"}, 1),
]
SUPERVISOR_AND_PROCESS = [
    ("mdi_component_restarts_total", {"component": "coinbase", "kind": "connector"}, 2),
    ("mdi_component_restarts_total", {"component": "spot_mid", "kind": "pipeline"}, 1),
    ("mdi_component_state", {"component": "coinbase", "kind": "connector", "state": "restarting"}, 1),
    ("mdi_component_state", {"component": "coinbase", "kind": "connector", "state": "running"}, 0),
    ("mdi_component_emitted_total", {"component": "spot_mid", "kind": "pipeline"}, 7),
    ("mdi_uptime_seconds", {}, 100.0),
    ("mdi_start_time_seconds", {}, NOW_NS / 1e9 - 100),
    ("mdi_service_state", {"state": "running"}, 1),
    ("mdi_service_state", {"state": "stopping"}, 0),
]


@pytest.mark.parametrize("expected", [VENUES, ROUTER, SINKS, SUPERVISOR_AND_PROCESS], ids=["venues", "router", "sinks", "supervisor"])
async def test_scraped_values(expected: list[tuple[str, dict[str, str], object]]) -> None:
    async with serving(build_service()) as url:
        _, samples = await scrape(url)
    got = [(name, labels, value(samples, name, **labels)) for name, labels, _ in expected]
    assert got == expected


async def test_one_state_per_venue_and_build_info() -> None:
    async with serving(build_service()) as url:
        _, s = await scrape(url)
    for venue in ("kraken", "coinbase"):
        assert sum(v for (name, labels), v in s.items() if name == "mdi_venue_state" and ("venue", venue) in labels) == 1
    assert [k for k in s if k[0] == "mdi_build_info"]


async def test_values_are_read_at_scrape_time() -> None:
    service = build_service()
    async with serving(service) as url:
        _, before = await scrape(url)
        service.venues["kraken"].frames += 5
        service.sinks["parquet"].counters["rows_written"] += 100
        service.venues["coinbase"].state = "live"
        _, after = await scrape(url)
    assert value(after, "mdi_venue_frames_total", venue="kraken") == value(before, "mdi_venue_frames_total", venue="kraken") + 5
    assert value(after, "mdi_sink_rows_written_total", sink="parquet") == 1000
    assert value(after, "mdi_venue_state", venue="coinbase", state="live") == 1


async def test_plugin_keys_shared_sanitized_and_never_shadowing(caplog: pytest.LogCaptureFixture) -> None:
    """Keys become names; a key that would duplicate a fixed family is skipped (and logged),
    since one duplicate family makes the whole scrape unreadable for Prometheus."""
    service = ServiceStats(started_ns=NOW_NS, state="running")
    a, b = SinkStats(name="a", delivery="durable"), SinkStats(name="b", delivery="best_effort")
    a.counters["bytes/written"] = 10
    b.counters["bytes/written"] = 20
    a.counters["queue_depth_events"] = 1  # would be mdi_sink_queue_depth_events (a fixed gauge)
    a.gauges["state"] = 3.0  # would be mdi_sink_state
    b.gauges["bytes_written"] = 5.0  # family mdi_sink_bytes_written is already the counter
    service.sinks.update(a=a, b=b)
    with caplog.at_level(logging.WARNING, logger="mdi.metrics"):
        s = parse_samples(generate_latest(build_registry(service, clock=fixed_clock, process_metrics=False)).decode())
    assert value(s, "mdi_sink_bytes_written_total", sink="a") == 10
    assert value(s, "mdi_sink_bytes_written_total", sink="b") == 20
    assert ("mdi_sink_bytes_written", frozenset({("sink", "b")})) not in s
    assert ("mdi_sink_queue_depth_events", frozenset({("sink", "a")})) in s
    assert value(s, "mdi_sink_queue_depth_events", sink="a") == 0  # the real gauge, not the key
    assert value(s, "mdi_sink_state", sink="a", state="ok") == 1
    skipped = sorted(r.key for r in caplog.records if r.name == "mdi.metrics")  # type: ignore[attr-defined]
    assert skipped == ["bytes_written", "queue_depth_events", "state"]


async def test_empty_service_before_start() -> None:
    s = parse_samples(generate_latest(build_registry(ServiceStats(), clock=fixed_clock, process_metrics=False)).decode())
    assert value(s, "mdi_uptime_seconds") == 0
    assert value(s, "mdi_service_state", state="starting") == 1
    assert value(s, "mdi_router_events_routed_total") == 0
    assert not [k for k in s if k[0].startswith("mdi_venue_")]


async def test_state_outside_the_declared_set_is_still_visible() -> None:
    service = ServiceStats(started_ns=NOW_NS, state="running")
    service.sinks["x"] = SinkStats(name="x", delivery="durable", state="paused")  # type: ignore[arg-type]
    s = parse_samples(generate_latest(build_registry(service, clock=fixed_clock, process_metrics=False)).decode())
    assert value(s, "mdi_sink_state", sink="x", state="paused") == 1
    assert value(s, "mdi_sink_state", sink="x", state="ok") == 0
