"""Entry point ``binance`` of the ``mdi`` group: registers the Binance USD-M mark price connector."""

from __future__ import annotations

from typing import Callable

from mdi.components import ConnectorSpec
from mdi.hookspecs import hookimpl

from mdi_binance.config import BinanceConfig
from mdi_binance.connector import BinanceConnector
from mdi_binance.sim import BinanceSimulator


@hookimpl
def mdi_register_connectors(register: Callable[[ConnectorSpec], None]) -> None:
    register(
        ConnectorSpec(
            name="binance",
            config_type=BinanceConfig,
            factory=BinanceConnector,
            description="Binance USD-M futures <symbol>@markPrice@1s on /market/stream -> mark_price",
            simulator=BinanceSimulator,
        )
    )
