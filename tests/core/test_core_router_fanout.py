"""The router picks each pipeline's events per batch (whole batch, none, or a filter): every
pipeline must get exactly the events of its kinds, in order, as the per-event filter gave them."""

from __future__ import annotations

import random
from decimal import Decimal as D

import anyio
import pytest

from mdi.config import RouterConfig
from mdi.events import BBO, EventBase, OptionTicker, Trade, VolIndex
from mdi.router import Router
from mdi.stats import RouterStats

T0 = 1_750_000_000_000_000_000


def make(kind: type[EventBase], i: int) -> EventBase:
    base = {"venue": "v", "symbol": "S", "ts_recv": T0 + i}
    if kind is BBO:
        return BBO(**base, bid_px=D(1), bid_sz=D(1), ask_px=D(2), ask_sz=D(1))
    if kind is Trade:
        return Trade(**base, trade_id=str(i), price=D(1), size=D(1))
    if kind is VolIndex:
        return VolIndex(**base, index_name="btc_usd", value=D(50))
    return OptionTicker(**base, expiry_ns=T0, strike=D(1), option_type="C")


@pytest.mark.anyio
async def test_each_pipeline_gets_exactly_its_kinds_in_order() -> None:
    router = Router(RouterConfig(max_batch=64), RouterStats())
    wants = {"bbo": frozenset({BBO}), "spot": frozenset({BBO, Trade}), "iv": frozenset({OptionTicker, VolIndex}),
             "none": frozenset({VolIndex})}
    inboxes = {name: router.add_pipeline(name, kinds) for name, kinds in wants.items()}
    sink = router.add_sink("all", durable=True)
    rng = random.Random(3)
    sent: list[EventBase] = []
    shapes = [(BBO,), (Trade,), (BBO, Trade), (OptionTicker,), (OptionTicker, BBO), (BBO, Trade, OptionTicker, VolIndex)]
    async with anyio.create_task_group() as tg:
        tg.start_soon(router.run)
        for n in range(200):
            kinds = shapes[n % len(shapes)]
            batch = [make(rng.choice(kinds), len(sent) + k) for k in range(rng.randint(1, 30))]
            sent += batch
            await router.emit_ingress(batch)
            await anyio.sleep(0)
        router.ingress.close()
        router.derived.close()
    got_all = [e for b in _drain(sink) for e in b]
    assert got_all == sent
    for name, kinds in wants.items():
        got = [e for b in _drain(inboxes[name]) for e in b]
        assert got == [e for e in sent if type(e) in kinds], name
        assert all(type(e) in kinds for e in got)
    assert not router.stats.drops


def _drain(channel) -> list[list[EventBase]]:  # type: ignore[no-untyped-def]
    out = []
    while batch := channel.get_nowait(1 << 20):
        out.append(batch)
    return out
