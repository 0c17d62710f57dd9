"""Registers the ``deribit`` connector with mdi."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from mdi.components import ConnectorSpec
from mdi.hookspecs import hookimpl

from mdi_deribit.config import DeribitConfig
from mdi_deribit.connector import DeribitConnector

if TYPE_CHECKING:
    from mdi_deribit.sim import DeribitSimulator


def make_simulator() -> DeribitSimulator:
    """Imported on demand: only ``mdi demo`` and tests need the simulator's server code."""
    from mdi_deribit.sim import DeribitSimulator

    return DeribitSimulator(scale=2)  # strikes and index near today's BTC level


@hookimpl
def mdi_register_connectors(register: Callable[[ConnectorSpec], None]) -> None:
    register(
        ConnectorSpec(
            name="deribit",
            config_type=DeribitConfig,
            factory=DeribitConnector,
            simulator=make_simulator,
            description="Deribit JSON-RPC v2: BTC option tickers (IV, greeks, best bid/ask) and DVOL",
        )
    )
