"""Plain counters and histograms that the hot path updates, exported to Prometheus at scrape time.

Incrementing a prometheus-client metric takes a lock and a label lookup; doing that per event
would cost more than parsing the event. So components bump plain ints on these objects (once per
batch where possible) and :mod:`mdi.metrics` turns them into metric families when scraped.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Sequence

# Seconds. Wide enough for receive->router (µs) and receive->Parquet visible (tens of seconds).
DEFAULT_LATENCY_BUCKETS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
)


class Reservoir:
    """A uniform random sample of every value offered, for exact percentiles (benchmarks).

    Bucket bounds say "p99 <= 25 ms"; a benchmark wants the number. Keeping every value would
    grow without bound, so this keeps ``capacity`` of them chosen uniformly at random from all
    values seen (Li's "Algorithm L": the gap to the next replacement is drawn directly, so the
    cost is per *replacement*, not per value, and a long run costs almost nothing per value).
    """

    def __init__(self, capacity: int = 100_000, seed: int | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self._rng = random.Random(seed)
        self.reset()

    def reset(self) -> None:
        """Forget every value (a benchmark's measurement window starts)."""
        self.values: list[float] = []
        self.seen = 0
        self._w = math.exp(math.log(self._uniform()) / self.capacity)
        self._next = self.capacity - 1
        self._skip()

    def extend(self, values: Sequence[float]) -> None:
        """Offer ``values`` (one call per batch)."""
        start = self.seen
        room = self.capacity - len(self.values)
        if room > 0:
            self.values.extend(values[:room])
        end = start + len(values)
        while self._next < end:
            self.values[self._rng.randrange(self.capacity)] = values[self._next - start]
            self._w *= math.exp(math.log(self._uniform()) / self.capacity)
            self._skip()
        self.seen = end

    def quantile(self, q: float) -> float:
        """Nearest-rank quantile of the sample (0.0 when empty)."""
        if not self.values:
            return 0.0
        ordered = sorted(self.values)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    def _uniform(self) -> float:
        return 1.0 - self._rng.random()  # (0, 1]: safe to take the log of

    def _skip(self) -> None:
        w = min(self._w, 1.0 - 1e-16)
        self._next += math.floor(math.log(self._uniform()) / math.log(1.0 - w)) + 1


class Histogram:
    """Cumulative-on-export histogram with cheap ``observe``; values in seconds.

    ``samples`` is off (None) unless :meth:`keep_samples` is called: then every observed value is
    also offered to a :class:`Reservoir`, so a benchmark can report exact percentiles.
    """

    def __init__(self, buckets: tuple[float, ...] = DEFAULT_LATENCY_BUCKETS) -> None:
        self.buckets = buckets
        self.bounds_ns = [round(b * 1e9) for b in buckets]  # observe_ns compares ints: no division
        self.counts = [0] * (len(buckets) + 1)  # last slot is +Inf
        self.total = 0.0
        self.n = 0
        self.samples: Reservoir | None = None

    def keep_samples(self, capacity: int = 100_000) -> Reservoir:
        """Start (or restart) keeping a uniform sample of the observed values."""
        self.samples = Reservoir(capacity)
        return self.samples

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1
        if self.samples is not None:
            self.samples.extend((value,))

    def observe_one_ns(self, value_ns: int) -> None:
        """One nanosecond duration: what ``observe_ns((value_ns,))`` does, without the tuple and
        the loop (sessions observe one venue latency per frame)."""
        if self.samples is not None:
            self.samples.extend((value_ns / 1e9,))
        self.counts[bisect_left(self.bounds_ns, value_ns)] += 1
        self.total += value_ns / 1e9
        self.n += 1

    def observe_ns(self, values_ns: Iterable[int]) -> None:
        """Record many nanosecond durations (e.g. one per event of a batch)."""
        if self.samples is not None:
            values_ns = list(values_ns)
            self.samples.extend([v / 1e9 for v in values_ns])
        bounds, counts = self.bounds_ns, self.counts
        total = 0
        n = 0
        for v in values_ns:
            counts[bisect_left(bounds, v)] += 1
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


VenueState = Literal["connecting", "subscribing", "subscribed", "live", "stale", "backoff", "failed"]


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
    ignored: int = 0  # frames deliberately not turned into events (streams not subscribed...)
    invalid: Counter[str] = field(default_factory=Counter)  # reason -> values refused at the edge
    undelivered: int = 0  # parsed events the router could not take before shutdown gave up
    rejected: list[str] = field(default_factory=list)
    # REST gap repair (mdi.backfill): trades fetched, gap outcomes, work under way
    backfilled: int = 0
    backfill_requests: int = 0
    gaps_repaired: int = 0
    gaps_partly_repaired: int = 0
    gaps_unrepaired: int = 0
    repairs_in_progress: int = 0
    repairs_queued: int = 0
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
