"""An in-process source plugin for tests of pipelines and sinks: given events, then silence.

``run_graph(config, plugins=[events_source("src", events)])`` with ``[connectors.src]`` in the
config feeds exactly ``events`` through the real router, so a pipeline's or sink's test can count
every row that comes out. ``done`` is set once all of them were accepted by the router.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import anyio
import msgspec

from mdi.components import ConnectorContext, ConnectorSpec
from mdi.events import EventBase
from mdi.hookspecs import hookimpl


class SourceConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[connectors.<name>]`` of a test source: ``batch`` events per ``emit``."""

    batch: int = 100


class EventsSource:
    """Emits the given events in batches, marks the venue live, then waits to be cancelled."""

    def __init__(self, events: Sequence[EventBase], config: SourceConfig) -> None:
        self.events = list(events)
        self.config = config
        self.done = anyio.Event()

    async def run(self, ctx: ConnectorContext) -> None:
        step = max(1, self.config.batch)
        ctx.stats.state = "live"
        for start in range(0, len(self.events), step):
            batch = self.events[start : start + step]
            await ctx.emit(batch)
            ctx.stats.events += len(batch)
            ctx.stats.last_data_ns = ctx.clock()
        self.done.set()
        await anyio.sleep_forever()


class EventsSourcePlugin:
    """A plugin object (pass it in ``plugins=``) registering one :class:`EventsSource`."""

    def __init__(self, name: str, events: Sequence[EventBase]) -> None:
        self.name = name
        self.events = list(events)
        self.instances: list[EventsSource] = []

    def _factory(self) -> Callable[[SourceConfig], EventsSource]:
        def make(config: SourceConfig) -> EventsSource:
            source = EventsSource(self.events, config)
            self.instances.append(source)
            return source

        return make

    @hookimpl
    def mdi_register_connectors(self, register: Callable[[ConnectorSpec], None]) -> None:
        register(ConnectorSpec(name=self.name, config_type=SourceConfig, factory=self._factory(), description="test source"))


def events_source(name: str, events: Sequence[EventBase]) -> tuple[str, EventsSourcePlugin]:
    """``(plugin name, plugin)`` for ``run_graph(..., plugins=[...])``; see the module docstring."""
    return (f"test-source-{name}", EventsSourcePlugin(name, events))
