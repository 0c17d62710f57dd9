"""Events per second per venue, from the counters the connectors already keep.

Sampled when the page asks (no background task, nothing on the hot path): a sample is taken at
most once per ``min_interval`` seconds and the rate is the counter's change over the samples of
the last ``window`` seconds. Several browsers polling at once share the same samples.
"""

from __future__ import annotations

from collections import deque

from mdi.stats import ServiceStats

NS_PER_S = 1_000_000_000


class RateMeter:
    def __init__(self, window: float = 5.0, min_interval: float = 0.5, max_samples: int = 64) -> None:
        self.window_ns = int(window * NS_PER_S)
        self.min_interval_ns = int(min_interval * NS_PER_S)
        self.samples: deque[tuple[int, dict[str, int]]] = deque(maxlen=max_samples)

    def rates(self, service: ServiceStats, now_ns: int) -> dict[str, float | None]:
        """``venue -> events/s`` (None until two samples are at least ``min_interval`` apart)."""
        if not self.samples or now_ns - self.samples[-1][0] >= self.min_interval_ns:
            self.samples.append((now_ns, {n: v.events for n, v in list(service.venues.items())}))
        while len(self.samples) > 2 and now_ns - self.samples[1][0] >= self.window_ns:
            self.samples.popleft()
        (t0, first), (t1, last) = self.samples[0], self.samples[-1]
        out: dict[str, float | None] = {}
        for name, events in last.items():
            if t1 - t0 < self.min_interval_ns or name not in first:
                out[name] = None
            else:
                out[name] = round((events - first[name]) * NS_PER_S / (t1 - t0), 1)
        return out


__all__ = ["RateMeter"]
