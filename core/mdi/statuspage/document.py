"""``/status.json``: what the status page draws, in one JSON document.

It is the ``/health`` snapshot (so the page and the health check never disagree) plus what a
person wants beside it: events per second per venue, each sink's own counters and gauges (drops,
journal lag, invalid rows: whatever the sink plugin keeps, rendered by name so new fields show
up without a page change), the spot-mid history, the nearest expiries' smiles and the plugin
panels. Decimals are strings (exact); times are Unix seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from mdi.health import snapshot
from mdi.stats import ServiceStats
from mdi.statuspage.history import NS_PER_S, DerivedHistory
from mdi.statuspage.plugin_routes import PluginRoute
from mdi.statuspage.rates import RateMeter

SMILE_EXPIRIES = 3  # the page draws the nearest three expiries


@dataclass
class StatusSources:
    """What the page reads besides :class:`ServiceStats`, handed over by the runtime.

    ``stale_after``: each connector's ``stale_after`` (seconds). A connector that reconnected
    after a stall reports ``live`` again once its subscriptions are acknowledged, before any data
    comes; the page shows such a venue as ``stale`` while its data is older than this.
    """

    history: DerivedHistory = field(default_factory=DerivedHistory)
    plugin_routes: Sequence[PluginRoute] = ()
    stale_after: dict[str, float] = field(default_factory=dict)
    meter: RateMeter = field(default_factory=RateMeter)


def page_state(state: str, age_s: float | None, stale_after: float | None) -> str:
    """The state the page shows: the connector's, except ``live`` with data older than ``stale_after``."""
    if state == "live" and stale_after is not None and age_s is not None and age_s >= stale_after:
        return "stale"
    return state


def page_status(health: dict[str, Any]) -> tuple[str, list[str]]:
    """``/health``'s status and reasons, plus the venues the page shows stale although their
    connector says ``live`` (so the headline never says ``ok`` beside a stale venue)."""
    status, reasons = health["status"], list(health["reasons"])
    for name, venue in health["venues"].items():
        if venue["page_state"] != venue["state"]:
            reasons.append(f"venue {name} is {venue['page_state']}: no data for {venue['last_data_age_s']} s")
            status = "degraded" if status == "ok" else status
    return status, reasons


def status_document(service: ServiceStats, sources: StatusSources, now_ns: int) -> dict[str, Any]:
    health = snapshot(service, clock=lambda: now_ns)
    rates = sources.meter.rates(service, now_ns)
    for name, venue in health["venues"].items():
        limit = sources.stale_after.get(name)
        venue["events_per_s"] = rates.get(name)
        venue["stale_after_s"] = limit
        venue["page_state"] = page_state(venue["state"], venue["last_data_age_s"], limit)
    for name, sink in health["sinks"].items():
        stats = service.sinks.get(name)
        if stats is not None:
            sink["counters"] = dict(stats.counters)
            sink["gauges"] = dict(stats.gauges)
    panels = [p for p in sources.plugin_routes if p.spec.panel]
    status, reasons = page_status(health)
    return {
        "now": now_ns / NS_PER_S,
        "status": status,
        "reasons": reasons,
        "health": health,
        "spot": sources.history.spot_json(),
        "surfaces": sources.history.surfaces_json(now_ns)[:SMILE_EXPIRIES],
        "panels": [{"title": p.spec.panel, "path": p.spec.path, "plugin": p.plugin} for p in panels],
    }


__all__ = ["SMILE_EXPIRIES", "StatusSources", "page_state", "page_status", "status_document"]
