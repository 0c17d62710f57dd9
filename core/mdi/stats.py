"""Plain counters and histograms that the hot path updates, exported to Prometheus at scrape time.

Incrementing a prometheus-client metric takes a lock and a label lookup; doing that per event
would cost more than parsing the event. So components bump plain ints on these objects (once per
batch where possible) and :mod:`mdi.metrics` turns them into metric families when scraped.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal

# Seconds. Wide enough for receive->router (µs) and receive->Parquet visible (tens of seconds).
DEFAULT_LATENCY_BUCKETS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
)


class Histogram:
    """Cumulative-on-export histogram with cheap ``observe``; values in seconds."""

    def __init__(self, buckets: tuple[float, ...] = DEFAULT_LATENCY_BUCKETS) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # last slot is +Inf
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1

    def observe_ns(self, values_ns: Iterable[int]) -> None:
        """Record many nanosecond durations (e.g. one per event of a batch)."""
        buckets, counts = self.buckets, self.counts
        total = 0
        n = 0
        for v in values_ns:
            counts[bisect_left(buckets, v / 1e9)] += 1
            total += v
            n += 1
        self.total += total / 1e9
        self.n += n

    def cumulative(self) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        acc = 0
        for bound, count in zip((*map(str, self.buckets), "+Inf"), self.counts):
            acc += count
            out.append((bound, acc))
        return out

    def quantile(self, q: float) -> float:
        """Upper bucket bound holding quantile ``q`` (for logs and benchmarks)."""
        if not self.n:
            return 0.0
        target = q * self.n
        acc = 0
        for bound, count in zip((*self.buckets, float("inf")), self.counts):
            acc += count
            if acc >= target:
                return bound
        return float("inf")


VenueState = Literal["connecting", "subscribing", "live", "stale", "backoff", "failed"]


@dataclass
class VenueStats:
    """State and counters of one connector; written by the connector, read by /health, /metrics."""

    name: str
    state: VenueState = "connecting"
    last_data_ns: int = 0
    reconnects: int = 0
    last_error: str = ""
    frames: int = 0
    events: int = 0
    parse_errors: int = 0
    gaps: int = 0
    sub_rejections: int = 0
    duplicates: int = 0
    rejected: list[str] = field(default_factory=list)
    exchange_latency: Histogram = field(default_factory=Histogram)


SinkState = Literal["ok", "degraded", "down"]


@dataclass
class SinkStats:
    """State and counters of one sink. ``counters`` keys become ``mdi_sink_<key>_total``."""

    name: str
    delivery: str
    state: SinkState = "ok"
    detail: str = ""
    queue_depth: int = 0
    counters: Counter[str] = field(default_factory=Counter)
    gauges: dict[str, float] = field(default_factory=dict)
    latency: Histogram = field(default_factory=Histogram)


@dataclass
class RouterStats:
    routed: int = 0
    batches: int = 0
    derived_routed: int = 0
    derived_dropped: int = 0
    last_seq: int = 0
    drops: Counter[tuple[str, str]] = field(default_factory=Counter)  # (target, reason) -> n
    latency: Histogram = field(default_factory=Histogram)


ComponentState = Literal["starting", "running", "restarting", "failed", "stopped"]


@dataclass
class ComponentStats:
    """Supervisor view of one connector or pipeline."""

    name: str
    kind: str
    state: ComponentState = "starting"
    restarts: int = 0
    last_error: str = ""
    counters: Counter[str] = field(default_factory=Counter)


ServiceState = Literal["starting", "running", "stopping", "stopped"]


@dataclass
class ServiceStats:
    """Everything /health and /metrics report, owned by the runtime (one per running graph)."""

    started_ns: int = 0
    state: ServiceState = "starting"
    venues: dict[str, VenueStats] = field(default_factory=dict)
    sinks: dict[str, SinkStats] = field(default_factory=dict)
    components: dict[str, ComponentStats] = field(default_factory=dict)
    router: RouterStats = field(default_factory=RouterStats)
    # name -> object with ``size`` and ``capacity`` (BatchChannel): queue depth gauges
    channels: dict[str, Any] = field(default_factory=dict)
