"""Both pipelines inside the real service: plugin hooks, config decoding, router, ordered shutdown.

Two in-process source connectors stand in for the venues (BBOs; Deribit tickers and DVOL) and a
memory sink records what the router delivers; the pipelines, router and runtime are the real ones.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

import anyio
import msgspec
import mdi_iv_surface.plugin
import mdi_spot_mid.plugin
import pytest
from mdi.channel import BatchChannel
from mdi.components import ConnectorContext, ConnectorSpec, SinkContext, SinkSpec
from mdi.config import parse_config
from mdi.events import EventBase, IVSurfaceSnapshot, SpotMid
from mdi.graph import assemble
from mdi.hookspecs import hookimpl
from mdi.plugins import build_plugin_host
from mdi.runtime import Service
from pipelines_support import CALL_PUT, S, bbo, dvol, option

pytestmark = pytest.mark.anyio

RECORDED: list[EventBase] = []


class Empty(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class BboSource:
    """Kraken and Coinbase BBOs every 20 ms, stamped with the service clock."""

    def __init__(self, config: Empty) -> None:
        self.config = config

    async def run(self, ctx: ConnectorContext) -> None:
        while True:
            now = ctx.clock()
            await ctx.emit([bbo("kraken", "99999.9", "100000.1", now), bbo("coinbase", "100000.00", "100000.02", now)])
            await anyio.sleep(0.02)


class OptionSource:
    """A four-quote BTC chain expiring in 30 days, and DVOL, every 20 ms."""

    def __init__(self, config: Empty) -> None:
        self.config = config

    async def run(self, ctx: ConnectorContext) -> None:
        expiry = ctx.clock() // S * S + 30 * 86_400 * S
        while True:
            now = ctx.clock()
            chain = [
                option(k, t, ts_recv=now, expiry_ns=expiry, mark_iv=iv)
                for k, iv in ((100000, "50.00"), (101000, "52.00"))
                for t in CALL_PUT
            ]
            await ctx.emit([*chain, dvol("55.12", now)])
            await anyio.sleep(0.02)


class Recorder:
    async def open(self, ctx: SinkContext) -> int | None:
        return None

    async def run(self, inbox: BatchChannel[EventBase]) -> None:
        async for batch in inbox:
            RECORDED.extend(batch)


@hookimpl
def mdi_register_connectors(register: Any) -> None:
    register(ConnectorSpec(name="bbo_src", config_type=Empty, factory=BboSource))
    register(ConnectorSpec(name="options_src", config_type=Empty, factory=OptionSource))


@hookimpl
def mdi_register_sinks(register: Any) -> None:
    register(SinkSpec(name="recorder", config_type=Empty, factory=lambda cfg: Recorder(), delivery="durable"))


CONFIG = """
[http]
enabled = false
[connectors.bbo_src]
[connectors.options_src]
[pipeline.spot_mid]
interval = 0.1
venues = ["kraken", "coinbase"]
max_divergence_bps = "10"
[pipeline.iv_surface]
interval = 0.1
max_rel_spread = 0.25
[sinks.recorder]
"""


async def test_both_pipelines_run_in_the_service_and_their_events_reach_the_sink() -> None:
    RECORDED.clear()
    host = build_plugin_host(
        load_entrypoints=False,
        extra=[
            ("spot_mid", mdi_spot_mid.plugin),
            ("iv_surface", mdi_iv_surface.plugin),
            ("pipetest", sys.modules[__name__]),
        ],
    )
    service = Service(assemble(parse_config(CONFIG, "test.toml"), host))

    def derived(kind: type[EventBase]) -> list[Any]:
        return [e for e in RECORDED if type(e) is kind]

    async with anyio.create_task_group() as tg:
        await tg.start(service.run)
        with anyio.fail_after(10):
            while not (
                any(m.quality == "Ok" for m in derived(SpotMid))
                and any(s.quality == "Ok" for s in derived(IVSurfaceSnapshot))
            ):
                await anyio.sleep(0.02)
        service.request_stop()
    mids = [m for m in derived(SpotMid) if m.quality == "Ok"]
    assert {(m.mid, m.divergence_bps, tuple(m.venues_used)) for m in mids} == {
        (Decimal("100000.005"), Decimal("0.00"), ("kraken", "coinbase"))
    }
    surfaces = [s for s in derived(IVSurfaceSnapshot) if s.quality == "Ok"]
    assert {(s.symbol, s.atm_iv, s.dvol, s.quotes_used) for s in surfaces} == {
        ("BTC", Decimal("50.5019"), Decimal("55.12"), 4)
    }
    seqs = [e.seq for e in RECORDED]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and seqs[0] >= 1  # the router stamped them
    pipes = {k: v for k, v in service.stats.components.items() if k.startswith("pipeline:")}
    assert {k: v.state for k, v in pipes.items()} == {"pipeline:spot_mid": "stopped", "pipeline:iv_surface": "stopped"}
    assert pipes["pipeline:spot_mid"].counters["emitted"] >= 1
