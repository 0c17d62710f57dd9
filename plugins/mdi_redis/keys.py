"""Which events become which Redis keys, and the in-memory coalescing buffer in front of Redis.

Redis holds the *latest* value per key, so the sink keeps a dict ``key -> newest event`` between
flushes: a burst of 10,000 BBOs for one venue and symbol costs one dict slot and one ``SET``.
Consolidated spot mids also feed a rolling stream (every one of them, not just the newest), kept
in a deque no longer than the stream itself. Both are bounded, so an outage costs memory
proportional to the number of keys, never to the number of events.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, cast

from mdi.events import (
    BBO,
    EventBase,
    IVSurfaceSnapshot,
    MarkPrice,
    SpotMid,
    Trade,
    VolIndex,
)
from mdi.timeutil import NS_PER_MS

KeyRule = Callable[[Any], str]


def key_prefix(prefix: str, instance: str, cluster: bool) -> str:
    """The prefix of every key this sink writes. In a Redis Cluster it carries the instance as a
    hash tag (``md:v1:{shard-a}``): keys every instance writes (health, the spot-mid window)
    stay apart per instance, and all of one instance's keys live in one slot, so a flush is one
    round trip to one master. Without a cluster the prefix is unchanged."""
    return f"{prefix}:{{{instance}}}" if cluster else prefix


def key_rules(prefix: str, latest_trade: bool = False) -> dict[type[EventBase], KeyRule]:
    """The event type -> key table. Kinds missing here (option tickers, status, gaps, and trades
    unless ``latest_trade``) are ignored. ``iv_surface`` keys carry the expiry in ms since the
    epoch, the unit Deribit uses for ``expiration_timestamp``."""
    rules: dict[type[EventBase], KeyRule] = {
        SpotMid: lambda e: f"{prefix}:spot_mid",
        BBO: lambda e: f"{prefix}:spot_bbo:{e.venue}:{e.symbol}",
        MarkPrice: lambda e: f"{prefix}:mark_price:{e.venue}:{e.symbol}",
        VolIndex: lambda e: f"{prefix}:dvol:{e.venue}",
        IVSurfaceSnapshot: lambda e: f"{prefix}:iv_surface:{e.expiry_ns // NS_PER_MS}",
    }
    if latest_trade:
        rules[Trade] = lambda e: f"{prefix}:trade:{e.venue}:{e.symbol}"
    return rules


@dataclass
class Absorbed:
    """What one batch did to the buffer (added to the sink's counters once per batch)."""

    events: int = 0
    ignored: int = 0
    coalesced: int = 0
    dropped: int = 0


class Coalescer:
    """Latest event per key plus the spot-mid window; emptied by each successful flush."""

    def __init__(self, rules: dict[type[EventBase], KeyRule], window_len: int, max_keys: int) -> None:
        self.rules = rules
        self.max_keys = max_keys
        self.latest: dict[str, EventBase] = {}
        self.window: deque[SpotMid] = deque(maxlen=window_len)

    def __bool__(self) -> bool:
        return bool(self.latest or self.window)

    def absorb(self, batch: list[EventBase]) -> Absorbed:
        """Keep the newest event per key. Per event: one key and one dict store; kinds without a
        key (trades by default, option tickers, status...) are skipped per batch, not per event."""
        rules, latest = self.rules, self.latest
        kinds = set(map(type, batch))
        keyed = [kind for kind in kinds if kind in rules]
        if not keyed:
            return Absorbed(events=len(batch), ignored=len(batch))
        before = len(latest)
        if len(kinds) == 1:  # one kind (a venue's burst): the loop runs in C but for the key
            latest.update(zip(map(rules[keyed[0]], batch), batch))
            mapped = len(batch)
            mids: list[SpotMid] = cast("list[SpotMid]", batch) if keyed[0] is SpotMid else []
        else:
            mapped = 0
            mids = []
            for event in batch:
                rule = rules.get(type(event))
                if rule is None:
                    continue
                latest[rule(event)] = event
                mapped += 1
                if type(event) is SpotMid:
                    mids.append(event)
        added = len(latest) - before
        result = Absorbed(events=len(batch), ignored=len(batch) - mapped, coalesced=mapped - added)
        result.dropped = self._trim_keys() + self._extend_window(mids)
        return result

    def clear(self) -> None:
        self.latest.clear()
        self.window.clear()

    def _trim_keys(self) -> int:
        """Over ``max_keys`` (only while Redis is away, or with a key explosion): drop the newest
        *keys*. Keys are in insertion order and replacing a value keeps its slot, so the tail
        holds exactly the keys this batch added; older keys keep being updated."""
        dropped = 0
        latest = self.latest
        while len(latest) > self.max_keys:
            latest.popitem()
            dropped += 1
        return dropped

    def _extend_window(self, mids: list[SpotMid]) -> int:
        """Append to the window; entries pushed out before being written count as dropped."""
        window = self.window
        assert window.maxlen is not None
        overflow = max(0, len(window) + len(mids) - window.maxlen)
        window.extend(mids)
        return overflow
