"""``/status.json`` built from hand-made stats: the /health snapshot plus what the page adds."""

from __future__ import annotations

from mdi.stats import ComponentStats, ServiceStats, SinkStats, VenueStats
from mdi.statuspage.document import StatusSources, status_document

S = 1_000_000_000
NOW = 1_800_000_000 * S


def service(kraken_age_s: float) -> ServiceStats:
    stats = ServiceStats(started_ns=NOW - 60 * S, state="running")
    for name, age in (("kraken", kraken_age_s), ("coinbase", 0.2)):
        stats.venues[name] = VenueStats(name=name, state="live", last_data_ns=NOW - int(age * S), events=500)
        stats.components[f"connector:{name}"] = ComponentStats(name=name, kind="connector", state="running")
    parquet = SinkStats(name="parquet", delivery="durable")
    parquet.counters.update({"rows": 42, "dropped_quarantined": 3})
    parquet.gauges["journal_lag_events"] = 7  # a field a future sink might report: passed through by name
    stats.sinks["parquet"] = parquet
    return stats


def test_a_live_venue_with_old_data_is_shown_stale_and_the_headline_says_so() -> None:
    doc = status_document(service(kraken_age_s=10.0), StatusSources(stale_after={"kraken": 3.0, "coinbase": 3.0}), NOW)
    kraken, coinbase = doc["health"]["venues"]["kraken"], doc["health"]["venues"]["coinbase"]
    assert (kraken["state"], kraken["page_state"], kraken["stale_after_s"]) == ("live", "stale", 3.0)
    assert (coinbase["state"], coinbase["page_state"]) == ("live", "live")
    assert doc["health"]["status"] == "ok"  # /health itself is unchanged
    assert (doc["status"], doc["reasons"]) == ("degraded", ["venue kraken is stale: no data for 10.0 s"])


def test_fresh_venues_leave_the_health_status_alone() -> None:
    doc = status_document(service(kraken_age_s=0.5), StatusSources(stale_after={"kraken": 3.0}), NOW)
    assert (doc["status"], doc["reasons"]) == ("ok", [])
    assert doc["health"]["venues"]["kraken"]["events_per_s"] is None  # first sample: no rate yet


def test_sinks_carry_their_own_counters_and_gauges_and_drops() -> None:
    doc = status_document(service(kraken_age_s=0.5), StatusSources(), NOW)
    parquet = doc["health"]["sinks"]["parquet"]
    assert parquet["counters"] == {"rows": 42, "dropped_quarantined": 3}
    assert parquet["gauges"] == {"journal_lag_events": 7}
    assert parquet["drops"] == 3
    assert (doc["now"], doc["spot"], doc["surfaces"], doc["panels"]) == (NOW / S, {}, [], [])
