"""What a plugin declares (specs) and what the core hands it at run time (contexts).

A plugin registers *specs* through the registration hooks in :mod:`mdi.hookspecs`. A spec names
the component, gives the msgspec type of its config section, and a factory that takes the decoded
config and returns the component. Components are plain objects with one coroutine entry point;
the core owns every task group, so a component never spawns tasks of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Literal, Protocol

import anyio
import msgspec

from mdi.events import EventBase
from mdi.stats import ComponentStats, SinkStats, VenueStats
from mdi.instance import host_instance
from mdi.timeutil import now_ns

if TYPE_CHECKING:
    from mdi.channel import BatchChannel
    from mdi.testing.sim import VenueSimulator
    from mdi.transport import Transport

Delivery = Literal["durable", "best_effort"]


class Connector(Protocol):
    async def run(self, ctx: ConnectorContext) -> None:
        """Stream from the venue until cancelled; reconnect internally. Raising = crash."""


class Pipeline(Protocol):
    async def run(self, ctx: PipelineContext) -> None:
        """Consume ``ctx.inbox`` until it is closed (``None``), emit derived events, return."""


class Sink(Protocol):
    async def open(self, ctx: SinkContext) -> int | None:
        """Prepare storage; return the highest sequence number already persisted (or None)."""

    async def run(self, inbox: BatchChannel[EventBase]) -> None:
        """Write every batch until ``inbox`` is closed and drained, then flush and close."""


@dataclass(frozen=True)
class ConnectorSpec:
    """Declares a venue connector; its config section is ``[connectors.<name>]``.

    ``simulator``, when given, builds a :class:`mdi.testing.VenueSimulator` that speaks this
    venue's protocol: ``mdi demo`` points the connector's ``url`` at it (see ``sim_url``).
    """

    name: str
    config_type: type[msgspec.Struct]
    factory: Callable[[Any], Connector]
    description: str = ""
    simulator: Callable[[], VenueSimulator] | None = None


@dataclass(frozen=True)
class PipelineSpec:
    """Declares a pipeline; ``consumes`` lists the event kinds routed to it."""

    name: str
    config_type: type[msgspec.Struct]
    factory: Callable[[Any], Pipeline]
    consumes: frozenset[str]
    produces: frozenset[str] = frozenset()
    description: str = ""


@dataclass(frozen=True)
class SinkSpec:
    """Declares a sink. ``durable``: the router blocks for it; ``best_effort``: drops and counts."""

    name: str
    config_type: type[msgspec.Struct]
    factory: Callable[[Any], Sink]
    delivery: Delivery
    description: str = ""


ComponentSpec = ConnectorSpec | PipelineSpec | SinkSpec


@dataclass
class ConnectorContext:
    """Everything a connector may touch. ``emit`` waits when the router is backed up."""

    name: str
    stats: VenueStats
    emit: Callable[[list[EventBase]], Awaitable[None]]
    transport: Transport
    log: logging.Logger
    clock: Callable[[], int] = now_ns
    # Waiting between reconnects; replay makes it instant (its clock is the recorded one).
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep


@dataclass
class PipelineContext:
    """``emit`` never waits: it returns False when the derived channel is full (counted)."""

    name: str
    stats: ComponentStats
    inbox: BatchChannel[EventBase]
    emit: Callable[[list[EventBase]], bool]
    log: logging.Logger
    clock: Callable[[], int] = now_ns
    # ``timer(due_ns, now_ns)``: a scope that ends when ``clock`` reaches ``due_ns``. None = the
    # real clock (``anyio.move_on_after``); replay passes its virtual clock's timer.
    timer: Callable[[int, int], AbstractContextManager[Any]] | None = None


def _no_journal(seq: int) -> None:
    """``SinkContext.committed`` when no journal runs: nothing waits for the report."""


@dataclass
class SinkContext:
    """``committed(seq)``: a durable sink reports that every event it was given with a sequence
    number up to ``seq`` is committed to its storage (the journal then releases those events;
    see docs/plugins.md, "Durable sinks and the journal"). Cheap; call it after each commit."""

    name: str
    stats: SinkStats
    log: logging.Logger
    health: Callable[[], dict[str, Any]] = field(default=lambda: {})
    clock: Callable[[], int] = now_ns
    instance: str = field(default_factory=host_instance)  # [service] instance (mdi.instance)
    committed: Callable[[int], None] = _no_journal
