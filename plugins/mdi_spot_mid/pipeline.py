"""The ``spot_mid`` run loop: remember the latest BBO per (venue, symbol), consolidate on ticks."""

from __future__ import annotations

from mdi.components import PipelineContext
from mdi.events import BBO, EventBase
from mdi.ticking import run_ticking, seconds_to_ns

from mdi_spot_mid.compute import consolidate
from mdi_spot_mid.config import SpotMidConfig


class SpotMidPipeline:
    """Emits one ``spot_mid_1s`` event per interval; per-event work is one dict store."""

    def __init__(self, config: SpotMidConfig) -> None:
        self.config = config

    async def run(self, ctx: PipelineContext) -> None:
        """Consume BBOs until the inbox closes; state starts empty on every (re)start."""
        latest: dict[tuple[str, str], BBO] = {}
        config = self.config

        def ingest(batch: list[EventBase]) -> None:
            for event in batch:
                if type(event) is BBO:
                    latest[(event.venue, event.symbol)] = event

        def tick(bucket_ns: int, now_ns: int) -> list[EventBase]:
            return [consolidate(config, latest, now_ns, bucket_ns)]

        await run_ticking(ctx, seconds_to_ns(config.interval), ingest, tick)
