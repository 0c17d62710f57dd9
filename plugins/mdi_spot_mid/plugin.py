"""Entry point ``spot_mid`` of the ``mdi`` group: registers the consolidated spot mid pipeline."""

from __future__ import annotations

from typing import Callable

from mdi.components import PipelineSpec
from mdi.hookspecs import hookimpl

from mdi_spot_mid.config import SpotMidConfig
from mdi_spot_mid.pipeline import SpotMidPipeline


@hookimpl
def mdi_register_pipelines(register: Callable[[PipelineSpec], None]) -> None:
    register(
        PipelineSpec(
            name="spot_mid",
            config_type=SpotMidConfig,
            factory=SpotMidPipeline,
            consumes=frozenset({"bbo"}),
            produces=frozenset({"spot_mid_1s"}),
            description="Consolidated BTC-USD mid every second: median of fresh, sane venue BBOs",
        )
    )
