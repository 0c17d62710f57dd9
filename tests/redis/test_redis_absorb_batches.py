"""``Coalescer.absorb`` skips key-less kinds per batch and runs one-kind batches in C: it must leave
the buffer and return the counts of the plain per-event loop, on every shape of batch."""

from __future__ import annotations

import random
from collections import deque
from decimal import Decimal as D

import pytest

from mdi.events import BBO, ConnectionStatus, EventBase, MarkPrice, SpotMid, Trade, VolIndex
from mdi_redis.keys import Absorbed, Coalescer, key_rules

T0 = 1_750_000_000_000_000_000


def reference(rules: dict, latest: dict, window: deque, max_keys: int, batch: list[EventBase]) -> Absorbed:  # type: ignore[type-arg]
    """The per-event loop as it was (the behaviour to keep)."""
    before, mapped, mids = len(latest), 0, []
    for event in batch:
        rule = rules.get(type(event))
        if rule is None:
            continue
        latest[rule(event)] = event
        mapped += 1
        if type(event) is SpotMid:
            mids.append(event)
    result = Absorbed(events=len(batch), ignored=len(batch) - mapped, coalesced=mapped - (len(latest) - before))
    dropped = 0
    while len(latest) > max_keys:
        latest.popitem()
        dropped += 1
    assert window.maxlen is not None
    dropped += max(0, len(window) + len(mids) - window.maxlen)
    window.extend(mids)
    result.dropped = dropped
    return result


def event(kind: str, i: int, venue: str) -> EventBase:
    base = {"venue": venue, "symbol": f"S{i % 4}", "ts_recv": T0 + i, "seq": i + 1}
    if kind == "bbo":
        return BBO(**base, bid_px=D(i), bid_sz=D(1), ask_px=D(i + 1), ask_sz=D(2))
    if kind == "trade":
        return Trade(**base, trade_id=str(i), price=D(i), size=D(1))
    if kind == "mark":
        return MarkPrice(**base, mark_price=D(i))
    if kind == "dvol":
        return VolIndex(**base, index_name="btc_usd", value=D(i))
    if kind == "mid":
        return SpotMid(**{**base, "venue": "mdi"}, ts_bucket=T0 + i, mid=D(i), quality="Ok")
    return ConnectionStatus(**base, state="connected")


KINDS = ("bbo", "trade", "mark", "dvol", "mid", "status")


@pytest.mark.parametrize("latest_trade", [False, True])
@pytest.mark.parametrize("max_keys", [3, 10_000])
def test_absorb_matches_the_per_event_loop(latest_trade: bool, max_keys: int) -> None:
    rng = random.Random(7)
    rules = key_rules("md:v1", latest_trade)
    fast = Coalescer(rules, window_len=5, max_keys=max_keys)
    ref_latest: dict[str, EventBase] = {}
    ref_window: deque[SpotMid] = deque(maxlen=5)
    i = 0
    for step in range(300):
        shape = step % 5
        if shape == 0:  # one kind
            kinds: tuple[str, ...] = (rng.choice(KINDS),)
        elif shape == 1:  # only key-less kinds
            kinds = ("trade", "status")
        elif shape == 2:
            kinds = ()
        else:
            kinds = tuple(rng.sample(KINDS, rng.randint(2, 4)))
        batch = [event(rng.choice(kinds), i + n, rng.choice(("kraken", "coinbase"))) for n in range(rng.randint(1, 40))] if kinds else []
        i += len(batch)
        got = fast.absorb(batch)
        want = reference(rules, ref_latest, ref_window, max_keys, batch)
        assert got == want, (step, kinds)
        assert list(fast.latest.items()) == list(ref_latest.items())  # same keys, same order, same events
        assert list(fast.window) == list(ref_window)
        if step % 7 == 6:  # a flush
            fast.clear()
            ref_latest.clear()
            ref_window.clear()
