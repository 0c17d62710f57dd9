"""Entry point ``coinbase`` of the ``mdi`` group: registers the Coinbase Advanced Trade connector."""

from __future__ import annotations

from typing import Callable

from mdi.components import ConnectorSpec
from mdi.hookspecs import hookimpl

from mdi_coinbase.config import CoinbaseConfig
from mdi_coinbase.connector import CoinbaseConnector
from mdi_coinbase.sim import CoinbaseSimulator


@hookimpl
def mdi_register_connectors(register: Callable[[ConnectorSpec], None]) -> None:
    register(
        ConnectorSpec(
            name="coinbase",
            config_type=CoinbaseConfig,
            factory=CoinbaseConnector,
            description="Coinbase Advanced Trade WebSocket: ticker -> bbo, market_trades -> trade",
            simulator=CoinbaseSimulator,
        )
    )
