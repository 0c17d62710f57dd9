"""The shared reconnect loop (mdi.connector) against a tiny real WebSocket venue."""

from __future__ import annotations

import logging
from decimal import Decimal

import anyio
import pytest

from mdi.components import ConnectorContext
from mdi.connector import ConnectorConfigBase, InvalidFrame, VenueSession, WsConnector
from mdi.events import ConnectionStatus, EventBase, Rejected, Trade
from mdi.stats import VenueStats
from mdi.testing.sim import VenueSimulator
from mdi.transport import Frame, get_transport

pytestmark = pytest.mark.anyio


class TinySim(VenueSimulator):
    """Protocol: client sends "sub"; server answers "ack" (unless ``silent``); data is "d:<n>"."""

    heartbeat_interval = 0.05
    silent = False

    async def on_message(self, conn, text):  # type: ignore[no-untyped-def]
        if text == "sub" and not self.silent:
            self.subscribers.add(conn)
            await self.send(conn, "ack")

    def heartbeat(self) -> str:
        return "hb"


class TinySession(VenueSession):
    def opening_messages(self) -> list[str]:
        self.pending_acks.add("d")
        return ["sub"]

    def on_frame(self, frame: Frame, recv_ns: int, out: list[EventBase]) -> bool:
        text = frame.decode() if isinstance(frame, bytes) else frame
        if text == "ack":
            self.acknowledge("d")
            return False
        if text == "hb":
            return False
        kind, _, n = text.partition(":")
        if kind == "bad":  # a whole frame refused by the validators (mdi.validate)
            raise InvalidFrame("not_positive", "price", n, "X")
        if kind != "d":
            raise ValueError(f"unknown frame {text!r}")
        out.append(Trade(venue="tiny", symbol="X", ts_recv=recv_ns, trade_id=n, price=Decimal(n), size=Decimal(1)))
        return True


class TinyConnector(WsConnector[ConnectorConfigBase]):
    venue = "tiny"
    tick = 0.05

    def new_session(self, ctx: ConnectorContext) -> VenueSession:
        return TinySession(self, ctx)


def config(url: str, **kw: float) -> ConnectorConfigBase:
    base = {"stale_after": 5.0, "ack_timeout": 5.0, "backoff_initial": 0.02, "backoff_max": 0.05}
    return ConnectorConfigBase(url=url, **{**base, **kw})  # type: ignore[arg-type]


async def run_with(sim: TinySim, cfg: ConnectorConfigBase, body) -> tuple[VenueStats, list[EventBase]]:  # type: ignore[no-untyped-def]
    stats = VenueStats(name="tiny")
    got: list[EventBase] = []

    async def emit(batch: list[EventBase]) -> None:
        got.extend(batch)

    ctx = ConnectorContext(name="tiny", stats=stats, emit=emit, transport=get_transport("picows"), log=logging.getLogger("t"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(TinyConnector(cfg).run, ctx)
        with anyio.fail_after(10):
            await body(stats, got)
        tg.cancel_scope.cancel()
    return stats, got


async def until(cond) -> None:  # type: ignore[no-untyped-def]
    while not cond():
        await anyio.sleep(0.01)


async def test_backoff_starts_afresh_after_a_connection_that_went_live() -> None:
    async with TinySim() as sim:
        async def body(stats: VenueStats, got: list[EventBase]) -> None:
            for n in range(1, 4):
                await until(lambda: stats.state in ("subscribed", "live") and sim.subscribers)
                await sim.disconnect_all()
                await until(lambda: stats.reconnects >= n)
            await until(lambda: stats.state in ("subscribed", "live"))

        stats, got = await run_with(sim, config(sim.url), body)
    attempts = [e.attempt for e in got if isinstance(e, ConnectionStatus) and e.state == "disconnected"]
    assert attempts == [1, 1, 1]
    states = [e.state for e in got if isinstance(e, ConnectionStatus)]
    assert states[:3] == ["connecting", "connected", "subscribed"]


async def test_heartbeats_alone_go_stale_and_the_state_says_so() -> None:
    async with TinySim() as sim:
        async def body(stats: VenueStats, got: list[EventBase]) -> None:
            await until(lambda: stats.state in ("subscribed", "live") and sim.subscribers)
            await sim.broadcast("d:1")
            await until(lambda: stats.last_data_ns > 0)
            sim.stalled = True  # heartbeats continue, data stops
            await until(lambda: stats.state == "stale")

        stats, got = await run_with(sim, config(sim.url, stale_after=0.3, backoff_initial=1.0, backoff_max=1.0), body)
    assert "stale" in stats.last_error
    assert any(isinstance(e, ConnectionStatus) and e.state == "stale" for e in got)


async def test_missing_acknowledgement_ends_the_session() -> None:
    async with TinySim() as sim:
        sim.silent = True

        async def body(stats: VenueStats, got: list[EventBase]) -> None:
            await until(lambda: stats.reconnects >= 2)

        stats, _ = await run_with(sim, config(sim.url, ack_timeout=0.2), body)
    assert "no acknowledgement within 0.2s" in stats.last_error
    assert sim.connect_count >= 2


async def test_garbage_is_counted_and_skipped_while_data_flows() -> None:
    async with TinySim() as sim:
        async def body(stats: VenueStats, got: list[EventBase]) -> None:
            await until(lambda: stats.state in ("subscribed", "live") and sim.subscribers)
            await sim.send_raw("CloudFlare WebSocket proxy restarting")
            await sim.broadcast("d:7")
            await until(lambda: any(isinstance(e, Trade) for e in got))

        stats, got = await run_with(sim, config(sim.url), body)
    assert stats.parse_errors == 1
    assert stats.reconnects == 0
    assert [e.price for e in got if isinstance(e, Trade)] == [Decimal(7)]


async def test_acknowledged_is_subscribed_and_only_data_makes_it_live() -> None:
    async with TinySim() as sim:
        async def body(stats: VenueStats, got: list[EventBase]) -> None:
            await until(lambda: stats.state == "subscribed" and sim.subscribers)
            await anyio.sleep(0.2)  # heartbeats and time alone do not make it live
            assert stats.state == "subscribed"
            await sim.broadcast("d:3")
            await until(lambda: stats.state == "live")

        await run_with(sim, config(sim.url), body)


async def test_an_invalid_frame_is_counted_and_kept_as_rejected_with_its_raw_text() -> None:
    async with TinySim() as sim:
        async def body(stats: VenueStats, got: list[EventBase]) -> None:
            await until(lambda: stats.state == "subscribed" and sim.subscribers)
            await sim.broadcast("bad:-5")
            await sim.broadcast("d:7")
            await until(lambda: any(isinstance(e, Trade) for e in got))

        stats, got = await run_with(sim, config(sim.url), body)
    rejected = [e for e in got if isinstance(e, Rejected)]
    assert [(r.reason, r.field, r.value, r.symbol, r.raw) for r in rejected] == [("not_positive", "price", "-5", "X", "bad:-5")]
    assert stats.invalid == {"not_positive": 1} and stats.parse_errors == 0
    assert stats.events == 2  # the Rejected audit row and the trade: both went to the router
