"""Entry point ``kraken`` of the ``mdi`` group: registers the Kraken Spot v2 connector."""

from __future__ import annotations

from typing import Callable

from mdi.components import ConnectorSpec
from mdi.hookspecs import hookimpl

from mdi_kraken.config import KrakenConfig
from mdi_kraken.connector import KrakenConnector
from mdi_kraken.sim import KrakenSimulator


@hookimpl
def mdi_register_connectors(register: Callable[[ConnectorSpec], None]) -> None:
    register(
        ConnectorSpec(
            name="kraken",
            config_type=KrakenConfig,
            factory=KrakenConnector,
            description="Kraken Spot WebSocket v2: ticker (BBO trigger) -> bbo, trade -> trade",
            simulator=KrakenSimulator,
        )
    )
