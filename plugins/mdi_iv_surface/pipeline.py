"""The ``iv_surface`` run loop: remember the latest ticker per instrument and DVOL, snapshot on ticks."""

from __future__ import annotations

from mdi.components import PipelineContext
from mdi.events import EventBase, OptionTicker, VolIndex
from mdi.ticking import run_ticking, seconds_to_ns

from mdi_iv_surface.config import IVSurfaceConfig
from mdi_iv_surface.surface import build_snapshots


class IVSurfacePipeline:
    """Emits one ``iv_surface_snapshot`` per live expiry per interval; per-event work is a dict store."""

    def __init__(self, config: IVSurfaceConfig) -> None:
        self.config = config

    async def run(self, ctx: PipelineContext) -> None:
        """Consume tickers and DVOL until the inbox closes; state starts empty on every (re)start."""
        config = self.config
        tickers: dict[tuple[str, str], OptionTicker] = {}
        vols: dict[tuple[str, str], VolIndex] = {}

        def ingest(batch: list[EventBase]) -> None:
            for event in batch:
                if isinstance(event, OptionTicker):
                    tickers[(event.venue, event.symbol)] = event
                elif isinstance(event, VolIndex):
                    vols[(event.venue, event.index_name)] = event

        def tick(bucket_ns: int, now_ns: int) -> list[EventBase]:
            for key in [k for k, t in tickers.items() if t.expiry_ns <= now_ns]:
                del tickers[key]  # expired instruments never come back: forget them
            dvol = vols.get((config.venue, config.dvol_index))
            return list(build_snapshots(config, tickers.values(), dvol, now_ns, bucket_ns))

        await run_ticking(ctx, seconds_to_ns(config.interval), ingest, tick)
