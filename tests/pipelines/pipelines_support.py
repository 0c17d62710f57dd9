"""Builders shared by the pipeline tests: events with realistic values, a context, a clock.

The context is the real :class:`PipelineContext` with a real :class:`BatchChannel` inbox and
real :class:`ComponentStats`; only ``emit`` is a list collector (the router's side of the call).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

from mdi.channel import BatchChannel
from mdi.components import PipelineContext
from mdi.events import BBO, EventBase, Greeks, OptionTicker, OptionType, VolIndex
from mdi.stats import ComponentStats

S = 1_000_000_000
MS = 1_000_000
T0 = 1_750_000_000 * S  # a whole second: 2025-06-15T15:06:40Z
EXPIRY = T0 + 30 * 86_400 * S
CALL_PUT: tuple[OptionType, ...] = ("C", "P")


def bbo(venue: str, bid: str, ask: str, ts_recv: int, symbol: str = "BTC-USD") -> BBO:
    return BBO(
        venue=venue, symbol=symbol, ts_recv=ts_recv, bid_px=Decimal(bid), bid_sz=Decimal("0.5"),
        ask_px=Decimal(ask), ask_sz=Decimal("0.25"),
    )


def option(
    strike: int | str,
    option_type: OptionType = "C",
    *,
    ts_recv: int,
    expiry_ns: int = EXPIRY,
    underlying: str = "BTC",
    venue: str = "deribit",
    forward: str | None = "100250",
    bid: str | None = "0.0500",
    ask: str | None = "0.0520",
    bid_amount: str | None = "10",
    ask_amount: str | None = "12.5",
    mark_iv: str | None = "50.00",
    bid_iv: str | None = "49.50",
    ask_iv: str | None = "50.50",
    open_interest: str | None = "100",
    delta: str | None = "0.5",
) -> OptionTicker:
    """A Deribit option ticker; ``None`` leaves a field unquoted, as the connector normalizes it."""

    def dec(text: str | None) -> Decimal | None:
        return None if text is None else Decimal(text)

    label = datetime.fromtimestamp(expiry_ns // S, timezone.utc).strftime("%d%b%y").upper().lstrip("0")
    return OptionTicker(
        venue=venue, symbol=f"{underlying}-{label}-{strike}-{option_type}", ts_recv=ts_recv,
        ts_exchange=ts_recv - MS, expiry_ns=expiry_ns, strike=Decimal(strike), option_type=option_type,
        underlying_price=dec(forward), underlying_index=f"{underlying}-{label}", index_price=Decimal("100100"),
        mark_price=Decimal("0.051"), mark_iv=dec(mark_iv), bid_iv=dec(bid_iv), ask_iv=dec(ask_iv),
        best_bid_price=dec(bid), best_bid_amount=dec(bid_amount), best_ask_price=dec(ask),
        best_ask_amount=dec(ask_amount), open_interest=dec(open_interest), greeks=Greeks(delta=dec(delta)),
    )  # fmt: skip


def dvol(value: str, ts_recv: int, index_name: str = "btc_usd") -> VolIndex:
    return VolIndex(
        venue="deribit", symbol="BTC-DVOL", ts_recv=ts_recv, ts_exchange=ts_recv, index_name=index_name,
        value=Decimal(value),
    )


@dataclass
class SteppableClock:
    """Wall-clock ns that advances in real time from a chosen start and can be stepped.

    Tests pick the phase (e.g. 30 ms before a 100 ms boundary) so tick times are exact and
    known; ``step`` simulates the wall clock jumping forward or back.
    """

    start_ns: int
    _origin: int = field(default_factory=time.monotonic_ns)
    _offset: int = 0

    def __call__(self) -> int:
        return self.start_ns + self._offset + (time.monotonic_ns() - self._origin)

    def step(self, ns: int) -> None:
        self._offset += ns


@dataclass
class Harness:
    """A real inbox and stats around a pipeline; ``emitted`` is what the router would receive."""

    clock: SteppableClock
    accept: bool = True
    emitted: list[EventBase] = field(default_factory=list)
    calls: int = 0
    inbox: BatchChannel[EventBase] = field(default_factory=lambda: BatchChannel("pipeline:test", 10_000))
    stats: ComponentStats = field(default_factory=lambda: ComponentStats(name="test", kind="pipeline"))

    def emit(self, events: list[EventBase]) -> bool:
        self.calls += 1
        if self.accept:
            self.emitted.extend(events)
        return self.accept

    def context(self, name: str) -> PipelineContext:
        return PipelineContext(
            name=name, stats=self.stats, inbox=self.inbox, emit=self.emit,
            log=logging.getLogger(f"tests.pipeline.{name}"), clock=self.clock,
        )
