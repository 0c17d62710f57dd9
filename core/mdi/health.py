"""``/health``: one JSON snapshot of the service, and the HTTP status code that goes with it.

Two questions, two answers:

- ``status`` (``ok`` | ``degraded`` | ``down``) says how well the service is *recording*: every
  venue live, every sink ok, no crashed component -> ``ok``.
- The HTTP status code is for load balancers and orchestrators, and answers only "is the
  service running and is the durable path (the Parquet lake) healthy?": 200 when the service is
  ``running`` and every durable sink is ``ok``, else 503. A stale venue or a Redis outage does not
  make the endpoint fail (a restart would not fix a venue outage and would lose the Redis cache);
  it shows in ``status`` and ``reasons``.

The exact rules are in :func:`assess` and in ``docs/operations.md``.
"""

from __future__ import annotations

from typing import Any, Callable

from mdi.stats import ComponentStats, ServiceStats, SinkStats, VenueStats
from mdi.timeutil import NS_PER_S, now_ns

HEALTHY_COMPONENT_STATES = frozenset({"starting", "running"})


def _seconds(ns: int) -> float:
    return round(ns / NS_PER_S, 3)


def _component(service: ServiceStats, kind: str, name: str) -> ComponentStats | None:
    """The supervisor's record of a connector or pipeline (keys are ``<kind>:<name>``)."""
    comp = service.components.get(f"{kind}:{name}")
    if comp is not None:
        return comp
    return next((c for c in service.components.values() if c.kind == kind and c.name == name), None)


def venue_state(service: ServiceStats, name: str, venue: VenueStats) -> str:
    """The connector's state, or ``failed`` once the supervisor has given up on it."""
    comp = _component(service, "connector", name)
    return "failed" if comp is not None and comp.state == "failed" else venue.state


def _venue(service: ServiceStats, name: str, venue: VenueStats, now: int) -> dict[str, Any]:
    comp = _component(service, "connector", name)
    return {
        "state": venue_state(service, name, venue),
        "component_state": comp.state if comp else None,
        "last_data_age_s": _seconds(now - venue.last_data_ns) if venue.last_data_ns else None,
        "reconnects": venue.reconnects,
        "restarts": comp.restarts if comp else 0,
        "last_error": venue.last_error or (comp.last_error if comp else ""),
        "rejected": list(venue.rejected),
        "frames": venue.frames,
        "events": venue.events,
        "parse_errors": venue.parse_errors,
        "gaps": venue.gaps,
        "invalid": dict(venue.invalid),
        "ignored": venue.ignored,
        "repairs": {
            "in_progress": venue.repairs_in_progress,
            "queued": venue.repairs_queued,
            "trades_backfilled": venue.backfilled,
            "repaired": venue.gaps_repaired,
            "partly_repaired": venue.gaps_partly_repaired,
            "unrepaired": venue.gaps_unrepaired,
        },
    }


def sink_drops(service: ServiceStats, name: str, sink: SinkStats) -> int:
    """Events this sink lost: router drops toward ``sink:<name>`` plus the sink's own counters
    whose key is ``dropped`` or starts with ``dropped_`` (a convention for sink plugins)."""
    routed = sum(n for (target, _), n in service.router.drops.items() if target == f"sink:{name}")
    own = sum(n for key, n in sink.counters.items() if key == "dropped" or key.startswith("dropped_"))
    return routed + own


def _sink(service: ServiceStats, name: str, sink: SinkStats) -> dict[str, Any]:
    inbox = service.channels.get(f"sink:{name}")
    inbox_depth = int(inbox.size) if inbox is not None else 0
    return {
        "state": sink.state,
        "delivery": sink.delivery,
        "queue_depth": inbox_depth + sink.queue_depth,
        "drops": sink_drops(service, name, sink),
        "detail": sink.detail,
    }


def _pipeline(comp: ComponentStats) -> dict[str, Any]:
    return {"state": comp.state, "restarts": comp.restarts, "last_error": comp.last_error}


def assess(service: ServiceStats) -> tuple[str, list[str]]:
    """Overall status and the reasons it is not ``ok`` (empty when ok).

    ``down``: the service is not ``running``; or a durable sink is ``down``; or there are
    venues and every one of them is ``failed``.
    ``degraded``: otherwise, when a durable sink is ``degraded``, a best-effort sink is not
    ``ok``, a venue is not ``live``, a venue had a subscription rejected, or a connector or
    pipeline is not ``starting``/``running`` (restarting, failed, stopped early).
    """
    down: list[str] = []
    degraded: list[str] = []
    if service.state != "running":
        down.append(f"service is {service.state}")
    for name, sink in list(service.sinks.items()):
        if sink.state == "ok":
            continue
        why = f"sink {name} ({sink.delivery}) is {sink.state}" + (f": {sink.detail}" if sink.detail else "")
        (down if sink.delivery == "durable" and sink.state == "down" else degraded).append(why)
    venues = list(service.venues.items())
    states = {name: venue_state(service, name, v) for name, v in venues}
    if venues and all(s == "failed" for s in states.values()):
        down.append("every venue has failed")
    for name, venue in venues:
        if states[name] != "live":
            degraded.append(f"venue {name} is {states[name]}")
        if venue.rejected:
            degraded.append(f"venue {name} rejected {len(venue.rejected)} subscription(s)")
    for comp in sorted(service.components.values(), key=lambda c: (c.kind, c.name)):
        if comp.state not in HEALTHY_COMPONENT_STATES:
            degraded.append(f"{comp.kind} {comp.name} is {comp.state}")
    status = "down" if down else "degraded" if degraded else "ok"
    return status, down + degraded


def http_status(service: ServiceStats) -> int:
    """200 when the service is ``running`` and every durable sink is ``ok``; else 503."""
    if service.state != "running":
        return 503
    durable_ok = all(s.state == "ok" for s in list(service.sinks.values()) if s.delivery == "durable")
    return 200 if durable_ok else 503


def snapshot(service: ServiceStats, *, clock: Callable[[], int] = now_ns) -> dict[str, Any]:
    """The ``/health`` document (JSON-able: str, int, float, bool, None, lists, dicts)."""
    now = clock()
    status, reasons = assess(service)
    pipelines = {c.name: _pipeline(c) for c in list(service.components.values()) if c.kind == "pipeline"}
    return {
        "status": status,
        "reasons": reasons,
        "service_state": service.state,
        "uptime_s": _seconds(now - service.started_ns) if service.started_ns else 0.0,
        "venues": {name: _venue(service, name, v, now) for name, v in list(service.venues.items())},
        "sinks": {name: _sink(service, name, s) for name, s in list(service.sinks.items())},
        "pipelines": pipelines,
    }


__all__ = ["assess", "http_status", "sink_drops", "snapshot", "venue_state"]
