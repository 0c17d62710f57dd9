"""Registers the ``redis`` sink with mdi (entry point ``redis = "mdi_redis.plugin"``)."""

from __future__ import annotations

from typing import Callable

from mdi.components import SinkSpec
from mdi.hookspecs import hookimpl
from mdi_redis.config import RedisSinkConfig
from mdi_redis.sink import RedisSink


@hookimpl
def mdi_register_sinks(register: Callable[[SinkSpec], None]) -> None:
    register(
        SinkSpec(
            name="redis",
            config_type=RedisSinkConfig,
            factory=RedisSink,
            delivery="best_effort",
            description="Hot cache: latest value per key, spot-mid window, health, Pub/Sub",
        )
    )
