"""Entry point ``iv_surface`` of the ``mdi`` group: registers the per-expiry IV snapshot pipeline."""

from __future__ import annotations

from typing import Callable

from mdi.components import PipelineSpec
from mdi.hookspecs import hookimpl

from mdi_iv_surface.config import IVSurfaceConfig
from mdi_iv_surface.pipeline import IVSurfacePipeline


@hookimpl
def mdi_register_pipelines(register: Callable[[PipelineSpec], None]) -> None:
    register(
        PipelineSpec(
            name="iv_surface",
            config_type=IVSurfaceConfig,
            factory=IVSurfacePipeline,
            consumes=frozenset({"option_ticker", "vol_index"}),
            produces=frozenset({"iv_surface_snapshot"}),
            description="Deribit options: per-expiry forward, ATM IV (log-moneyness), smile, DVOL",
        )
    )
