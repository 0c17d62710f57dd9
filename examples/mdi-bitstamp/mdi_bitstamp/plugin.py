"""Entry point ``bitstamp`` of the ``mdi`` group: the connector and its simulator (``mdi demo``)."""

from __future__ import annotations

from typing import Callable

from mdi.api import ConnectorSpec, hookimpl

from mdi_bitstamp.config import BitstampConfig
from mdi_bitstamp.connector import BitstampConnector
from mdi_bitstamp.sim import BitstampSimulator


@hookimpl
def mdi_register_connectors(register: Callable[[ConnectorSpec], None]) -> None:
    register(
        ConnectorSpec(
            name="bitstamp",
            config_type=BitstampConfig,
            factory=BitstampConnector,
            description="Bitstamp WebSocket v2: live_trades -> trade, order_book top level -> bbo",
            simulator=BitstampSimulator,
        )
    )
