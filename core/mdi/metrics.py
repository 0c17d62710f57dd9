"""Prometheus metrics built from :mod:`mdi.stats` at scrape time.

The hot path only bumps plain ints on the stats objects; this module's collector reads them when
``/metrics`` is scraped and yields metric families. No prometheus-client metric object is touched
per event, so a scrape costs a few hundred samples and an idle service costs nothing.

Every metric family is declared once below (name, type, help); :func:`describe_metrics` lists
them for the docs meta-test, and the collector emits only declared names (plus the two per-sink
and one per-component patterns whose ``<key>`` comes from a plugin's counters and gauges).

The collector must run on the event loop that mutates the stats (litestar calls the async
``/metrics`` handler there), so it never sees a dict changing size under it.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Iterable, Iterator, NamedTuple, get_args

from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

import mdi
from mdi.health import sink_drops
from mdi.stats import ComponentState, Histogram, ServiceState, ServiceStats, SinkState, VenueState
from mdi.timeutil import NS_PER_S, now_ns

log = logging.getLogger("mdi.metrics")

VENUE_STATES: tuple[str, ...] = get_args(VenueState)
SINK_STATES: tuple[str, ...] = get_args(SinkState)
COMPONENT_STATES: tuple[str, ...] = get_args(ComponentState)
SERVICE_STATES: tuple[str, ...] = get_args(ServiceState)


class MetricInfo(NamedTuple):
    """One exposed metric family: the name you query (counters end in ``_total``)."""

    name: str
    type: str  # "counter" | "gauge" | "histogram"
    help: str


def _c(name: str, help: str) -> MetricInfo:
    return MetricInfo(name, "counter", help)


def _g(name: str, help: str) -> MetricInfo:
    return MetricInfo(name, "gauge", help)


def _h(name: str, help: str) -> MetricInfo:
    return MetricInfo(name, "histogram", help)


# ----- process -------------------------------------------------------------------------------
UPTIME = _g("mdi_uptime_seconds", "Seconds since the service started (0 before it starts).")
START_TIME = _g("mdi_start_time_seconds", "Unix time the service started (0 before it starts).")
SERVICE_STATE = _g("mdi_service_state", "1 for the service's current state, 0 for the others.")
BUILD_INFO = _g("mdi_build_info", "Always 1; the version label is the installed md-ingest version.")

# ----- venues (label venue) ------------------------------------------------------------------
VENUE_COUNTERS: tuple[tuple[str, MetricInfo], ...] = (
    ("frames", _c("mdi_venue_frames_total", "WebSocket frames received (data, heartbeats, acks).")),
    ("events", _c("mdi_venue_events_total", "Normalized events the connector emitted to the router.")),
    ("parse_errors", _c("mdi_venue_parse_errors_total", "Frames that failed to parse and were skipped.")),
    ("reconnects", _c("mdi_venue_reconnects_total", "Connections that ended and were retried.")),
    ("gaps", _c("mdi_venue_gaps_total", "Sequence gaps detected in the venue's message numbering.")),
    ("sub_rejections", _c("mdi_venue_subscription_rejections_total", "Subscriptions the venue rejected.")),
    ("duplicates", _c("mdi_venue_duplicates_total", "Duplicate events dropped (e.g. trades replayed after a reconnect).")),
    ("ignored", _c("mdi_venue_ignored_total", "Frames deliberately not turned into events (e.g. streams not subscribed).")),
    ("undelivered", _c("mdi_venue_undelivered_total", "Parsed events the router could not take within the shutdown grace.")),
    ("backfilled", _c("mdi_venue_trades_backfilled_total", "Trades fetched over REST to fill a gap (trade rows with source=rest).")),
    ("backfill_requests", _c("mdi_venue_backfill_requests_total", "REST requests made to repair gaps (retries included).")),
    ("gaps_repaired", _c("mdi_venue_gaps_repaired_total", "Trade-id gaps filled completely over REST.")),
    ("gaps_partly_repaired", _c("mdi_venue_gaps_partly_repaired_total", "Trade-id gaps filled in part (the gap row says why not all).")),
    ("gaps_unrepaired", _c("mdi_venue_gaps_unrepaired_total", "Trade-id gaps that could not be filled (the gap row says why).")),
)
VENUE_INVALID = _c(
    "mdi_venue_invalid_total", "Values refused at the edge, by reason (each kept as a `rejected` event in the lake)."
)
VENUE_REPAIRS = _g("mdi_venue_repairs_in_progress", "Gap repairs under way or queued for the venue.")
VENUE_AGE = _g(
    "mdi_venue_last_data_age_seconds",
    "Seconds since the venue last sent data (heartbeats excluded); before any data, since the service started.",
)
VENUE_LAST_DATA = _g("mdi_venue_last_data_timestamp_seconds", "Unix time of the venue's last data (0 if none yet).")
VENUE_STATE = _g("mdi_venue_state", "1 for the connector's current state, 0 for the others.")
VENUE_LATENCY = _h("mdi_venue_exchange_latency_seconds", "Venue timestamp to local receive time.")

# ----- router and channels -------------------------------------------------------------------
ROUTER_COUNTERS: tuple[tuple[str, MetricInfo], ...] = (
    ("routed", _c("mdi_router_events_routed_total", "Events stamped and fanned out (ingress and derived).")),
    ("batches", _c("mdi_router_batches_total", "Batches the router fanned out.")),
    ("derived_routed", _c("mdi_router_derived_routed_total", "Derived (pipeline) events routed; part of events_routed.")),
    ("derived_dropped", _c("mdi_router_derived_dropped_total", "Derived events dropped because the derived channel was full.")),
)
ROUTER_DROPS = _c("mdi_router_drops_total", "Events dropped by the router, by target channel and reason.")
ROUTER_LAST_SEQ = _g("mdi_router_last_seq", "Last sequence number stamped (monotonic for the life of the lake).")
ROUTER_LATENCY = _h("mdi_router_latency_seconds", "Local receive time to routing (sampled per batch).")
CHANNEL_DEPTH = _g("mdi_channel_depth_events", "Events queued in a bounded channel.")
CHANNEL_CAPACITY = _g("mdi_channel_capacity_events", "Capacity of a bounded channel, in events.")

# ----- sinks (label sink) --------------------------------------------------------------------
SINK_STATE = _g("mdi_sink_state", "1 for the sink's current state, 0 for the others.")
SINK_INFO = _g("mdi_sink_info", "Always 1; the delivery label is durable or best_effort.")
SINK_QUEUE = _g("mdi_sink_queue_depth_events", "Events buffered inside the sink, not yet written.")
SINK_LATENCY = _h("mdi_sink_latency_seconds", "Local receive time to the event being written (Parquet: file visible; Redis: written).")
SINK_DROPPED = _c("mdi_sink_dropped_events_total", "Events this sink lost: router drops toward it plus its own dropped* counters (/health drops).")
SINK_COUNTER_PATTERN = _c("mdi_sink_<key>_total", "One per key of the sink's counters (documented by each sink plugin).")
SINK_GAUGE_PATTERN = _g("mdi_sink_<key>", "One per key of the sink's gauges (documented by each sink plugin).")

# ----- supervisor (labels component, kind) ---------------------------------------------------
COMPONENT_RESTARTS = _c("mdi_component_restarts_total", "Restarts of a connector or pipeline after a crash.")
COMPONENT_STATE = _g("mdi_component_state", "1 for the component's current supervisor state, 0 for the others.")
COMPONENT_COUNTER_PATTERN = _c("mdi_component_<key>_total", "One per key of a component's counters.")

FIXED_METRICS: tuple[MetricInfo, ...] = (
    UPTIME, START_TIME, SERVICE_STATE, BUILD_INFO,
    *(info for _, info in VENUE_COUNTERS), VENUE_INVALID, VENUE_AGE, VENUE_LAST_DATA, VENUE_STATE, VENUE_LATENCY, VENUE_REPAIRS,
    *(info for _, info in ROUTER_COUNTERS), ROUTER_DROPS, ROUTER_LAST_SEQ, ROUTER_LATENCY,
    CHANNEL_DEPTH, CHANNEL_CAPACITY,
    SINK_STATE, SINK_INFO, SINK_QUEUE, SINK_LATENCY, SINK_DROPPED,
    COMPONENT_RESTARTS, COMPONENT_STATE,
)
PATTERN_METRICS: tuple[MetricInfo, ...] = (SINK_COUNTER_PATTERN, SINK_GAUGE_PATTERN, COMPONENT_COUNTER_PATTERN)


def describe_metrics() -> list[MetricInfo]:
    """Every metric mdi exposes as ``(name, type, help)`` tuples; ``<key>`` marks the parts
    that come from a plugin's counter and gauge keys. The docs meta-test checks this list."""
    return [*FIXED_METRICS, *PATTERN_METRICS]


def _exposed_names(info: MetricInfo) -> set[str]:
    """Family and sample names a fixed metric occupies, so a plugin key cannot shadow it."""
    if info.type == "counter":
        family = info.name.removesuffix("_total")
        return {family, family + "_total", family + "_created"}
    if info.type == "histogram":
        return {info.name, *(info.name + s for s in ("_bucket", "_sum", "_count", "_created"))}
    return {info.name}


_RESERVED: frozenset[str] = frozenset().union(*map(_exposed_names, FIXED_METRICS))
_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def metric_key(key: str) -> str:
    """A plugin's counter/gauge key as a metric-name fragment (invalid characters become ``_``)."""
    return _INVALID.sub("_", key)


# ----- family builders -----------------------------------------------------------------------
def _counter(info: MetricInfo, labels: Iterable[str] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(info.name, info.help, labels=list(labels))


def _gauge(info: MetricInfo, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(info.name, info.help, labels=list(labels))


def _add_histogram(family: HistogramMetricFamily, labels: list[str], hist: Histogram) -> None:
    family.add_metric(labels, buckets=hist.cumulative(), sum_value=hist.total)


def _one_hot(info: MetricInfo, labels: list[str], rows: Iterable[tuple[list[str], str]], states: tuple[str, ...]) -> GaugeMetricFamily:
    """A ``state`` gauge: one sample per possible state, 1 for the current one (a state outside
    the declared set still gets its own sample, so the current state is never invisible)."""
    family = _gauge(info, [*labels, "state"])
    for values, current in rows:
        for state in states:
            family.add_metric([*values, state], 1.0 if state == current else 0.0)
        if current not in states:
            family.add_metric([*values, current], 1.0)
    return family


class ServiceCollector(Collector):
    """Reads one :class:`ServiceStats` at collect time and yields every ``mdi_`` family."""

    def __init__(self, service: ServiceStats, clock: Callable[[], int] = now_ns) -> None:
        self.service = service
        self.clock = clock
        self._warned: set[tuple[str, str]] = set()

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        yield from self._process(now)
        yield from self._venues(now)
        yield from self._router()
        yield from self._channels()
        yield from self._sinks()
        yield from self._components()

    # ----- sections ------------------------------------------------------------------------
    def _process(self, now: int) -> Iterator[Metric]:
        started = self.service.started_ns
        yield GaugeMetricFamily(UPTIME.name, UPTIME.help, value=(now - started) / NS_PER_S if started else 0.0)
        yield GaugeMetricFamily(START_TIME.name, START_TIME.help, value=started / NS_PER_S)
        yield _one_hot(SERVICE_STATE, [], [([], self.service.state)], SERVICE_STATES)
        info = _gauge(BUILD_INFO, ["version"])
        info.add_metric([mdi.__version__], 1.0)
        yield info

    def _venues(self, now: int) -> Iterator[Metric]:
        venues = list(self.service.venues.items())
        for attr, info in VENUE_COUNTERS:
            family = _counter(info, ["venue"])
            for name, stats in venues:
                family.add_metric([name], getattr(stats, attr))
            yield family
        invalid = _counter(VENUE_INVALID, ["venue", "reason"])
        for name, stats in venues:
            for reason, n in sorted(stats.invalid.items()):
                invalid.add_metric([name, reason], n)
        yield invalid
        age, last = _gauge(VENUE_AGE, ["venue"]), _gauge(VENUE_LAST_DATA, ["venue"])
        for name, stats in venues:
            since = stats.last_data_ns or self.service.started_ns
            if since:
                age.add_metric([name], max(0.0, (now - since) / NS_PER_S))
            last.add_metric([name], stats.last_data_ns / NS_PER_S)
        yield age
        yield last
        yield _one_hot(VENUE_STATE, ["venue"], (([n], s.state) for n, s in venues), VENUE_STATES)
        repairs = _gauge(VENUE_REPAIRS, ["venue"])
        for name, stats in venues:
            repairs.add_metric([name], stats.repairs_in_progress + stats.repairs_queued)
        yield repairs
        latency = HistogramMetricFamily(VENUE_LATENCY.name, VENUE_LATENCY.help, labels=["venue"])
        for name, stats in venues:
            _add_histogram(latency, [name], stats.exchange_latency)
        yield latency

    def _router(self) -> Iterator[Metric]:
        router = self.service.router
        for attr, info in ROUTER_COUNTERS:
            yield CounterMetricFamily(info.name, info.help, value=getattr(router, attr))
        drops = _counter(ROUTER_DROPS, ["target", "reason"])
        for (target, reason), n in sorted(router.drops.items()):
            drops.add_metric([target, reason], n)
        yield drops
        yield GaugeMetricFamily(ROUTER_LAST_SEQ.name, ROUTER_LAST_SEQ.help, value=router.last_seq)
        latency = HistogramMetricFamily(ROUTER_LATENCY.name, ROUTER_LATENCY.help, labels=[])
        _add_histogram(latency, [], router.latency)
        yield latency

    def _channels(self) -> Iterator[Metric]:
        depth, capacity = _gauge(CHANNEL_DEPTH, ["channel"]), _gauge(CHANNEL_CAPACITY, ["channel"])
        for name, channel in list(self.service.channels.items()):
            depth.add_metric([name], channel.size)
            capacity.add_metric([name], channel.capacity)
        yield depth
        yield capacity

    def _sinks(self) -> Iterator[Metric]:
        sinks = list(self.service.sinks.items())
        yield _one_hot(SINK_STATE, ["sink"], (([n], s.state) for n, s in sinks), SINK_STATES)
        info, queue = _gauge(SINK_INFO, ["sink", "delivery"]), _gauge(SINK_QUEUE, ["sink"])
        latency = HistogramMetricFamily(SINK_LATENCY.name, SINK_LATENCY.help, labels=["sink"])
        dropped = _counter(SINK_DROPPED, ["sink"])  # one always-present name for the drops alert
        for name, stats in sinks:
            info.add_metric([name, stats.delivery], 1.0)
            queue.add_metric([name], stats.queue_depth)
            _add_histogram(latency, [name], stats.latency)
            dropped.add_metric([name], sink_drops(self.service, name, stats))
        yield info
        yield queue
        yield latency
        yield dropped
        yield from self._dynamic("mdi_sink_", "sink", [([n], s.counters, s.gauges) for n, s in sinks])

    def _components(self) -> Iterator[Metric]:
        comps = sorted(self.service.components.values(), key=lambda c: (c.kind, c.name))
        labels = ["component", "kind"]
        restarts = _counter(COMPONENT_RESTARTS, labels)
        for comp in comps:
            restarts.add_metric([comp.name, comp.kind], comp.restarts)
        yield restarts
        yield _one_hot(COMPONENT_STATE, labels, (([c.name, c.kind], c.state) for c in comps), COMPONENT_STATES)
        rows: list[tuple[list[str], Any, dict[str, float]]] = [([c.name, c.kind], c.counters, {}) for c in comps]
        yield from self._dynamic("mdi_component_", "component", rows, labels)

    # ----- plugin-defined counters and gauges ----------------------------------------------
    def _dynamic(
        self,
        prefix: str,
        what: str,
        rows: list[tuple[list[str], Any, dict[str, float]]],
        labels: list[str] | None = None,
    ) -> Iterator[Metric]:
        """``counters[key]`` -> ``<prefix><key>_total``, ``gauges[key]`` -> ``<prefix><key>``.

        Keys from different sinks (or components) share one family; a key whose name would clash
        with a fixed metric or with another family is skipped (and logged once), because a
        duplicate family makes the whole exposition invalid for Prometheus.
        """
        labels = labels or [what]
        taken: set[str] = set(_RESERVED)
        counters: dict[str, CounterMetricFamily] = {}
        gauges: dict[str, GaugeMetricFamily] = {}
        for values, row_counters, _ in rows:
            for key, n in sorted(row_counters.items()):
                family = prefix + metric_key(key)
                if family not in counters and not self._claim(taken, {family, family + "_total", family + "_created"}, what, key):
                    continue
                counters.setdefault(family, CounterMetricFamily(family, f"{what} counter {key!r}", labels=labels))
                counters[family].add_metric(values, n)
        for values, _, row_gauges in rows:
            for key, v in sorted(row_gauges.items()):
                family = prefix + metric_key(key)
                if family not in gauges and not self._claim(taken, {family}, what, key):
                    continue
                gauges.setdefault(family, GaugeMetricFamily(family, f"{what} gauge {key!r}", labels=labels))
                gauges[family].add_metric(values, v)
        yield from counters.values()
        yield from gauges.values()

    def _claim(self, taken: set[str], names: set[str], what: str, key: str) -> bool:
        if taken & names:
            if (what, key) not in self._warned:
                self._warned.add((what, key))
                log.warning("metric key clashes with another metric; not exported", extra={"kind": what, "key": key})
            return False
        taken |= names
        return True


def build_registry(
    service: ServiceStats,
    *,
    clock: Callable[[], int] = now_ns,
    process_metrics: bool = True,
) -> CollectorRegistry:
    """A fresh registry (never the global one) exporting ``service``; with ``process_metrics``
    also prometheus-client's standard ``process_*``, ``python_gc_*`` and ``python_info``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(service, clock))
    if process_metrics:
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
    return registry


__all__ = [
    "COMPONENT_STATES",
    "SERVICE_STATES",
    "SINK_STATES",
    "VENUE_STATES",
    "MetricInfo",
    "ServiceCollector",
    "build_registry",
    "describe_metrics",
    "metric_key",
]
