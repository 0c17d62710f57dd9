"""Driving a plugin's tests from a capture: the venue's real bytes instead of hand-made frames.

``replay_capture`` replays a capture (``[capture] root`` or one ``run-*`` directory) through the
connectors and pipelines of a config and returns every event the router stamped, in sequence
order, from an in-memory sink (no lake needed). ``received_frames`` lists one connector's
received frames with their receive times, to feed a session's ``on_frame`` directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import msgspec

from mdi.capture.cursor import Cursor
from mdi.capture.format import RECV, TEXT, batch_frames, runs, segments
from mdi.capture.replay import ReplayOptions, replay_run
from mdi.channel import BatchChannel
from mdi.components import SinkContext, SinkSpec
from mdi.config import parse_config
from mdi.events import EventBase
from mdi.graph import assemble
from mdi.hookspecs import hookimpl
from mdi.plugins import build_plugin_host
from mdi.transport import Frame

COLLECT = "mdi_testing_collect"


class _CollectConfig(msgspec.Struct, forbid_unknown_fields=True):
    pass


@dataclass
class _CollectSink:
    events: list[EventBase]

    async def open(self, ctx: SinkContext) -> int | None:
        return None

    async def run(self, inbox: BatchChannel[EventBase]) -> None:
        async for batch in inbox:
            self.events.extend(batch)


class _CollectPlugin:
    def __init__(self, events: list[EventBase]) -> None:
        self.events = events

    @hookimpl
    def mdi_register_sinks(self, register: Callable[[SinkSpec], None]) -> None:
        register(SinkSpec(name=COLLECT, config_type=_CollectConfig, factory=lambda _: _CollectSink(self.events),
                          delivery="durable", description="mdi.testing: keeps every event in memory"))


async def replay_capture(capture: Path, config_text: str, *, plugins: Iterable[tuple[str, Any]] = (),
                         options: ReplayOptions | None = None) -> list[EventBase]:
    """Every event (venue and derived) a replay of ``capture`` through ``config_text`` routes.

    ``config_text`` is TOML with the ``[connectors.*]`` and ``[pipeline.*]`` to test (its own
    ``[sinks.*]`` run too); ``plugins`` registers in-process plugins, e.g. the one under test.
    """
    events: list[EventBase] = []
    text = config_text + f"\n[sinks.{COLLECT}]\n"
    for run_dir in runs(Path(capture)):
        host = build_plugin_host(extra=[(COLLECT, _CollectPlugin(events)), *plugins])
        graph = assemble(parse_config(text, "replay_capture.toml"), host)
        await replay_run(graph, run_dir, options or ReplayOptions())
    return sorted(events, key=lambda e: e.seq)


def received_frames(capture: Path, connector: str) -> list[tuple[int, Frame]]:
    """``(receive ns, frame)`` for every frame ``connector`` received, in order, over all runs."""
    out: list[tuple[int, Frame]] = []
    for run_dir in runs(Path(capture)):
        cursor = Cursor(segments(run_dir / connector)) if (run_dir / connector).is_dir() else Cursor([])
        while (record := cursor.peek()) is not None:
            cursor.pop()
            if record.kind == RECV:
                batch = batch_frames(record.payload)
                out.extend((record.t_ns, f.decode() if record.flags & TEXT else f) for f in batch)
    return out
