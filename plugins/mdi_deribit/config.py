"""``[connectors.deribit]``: which options to follow and how to pace the requests that follow them.

Instrument selection is a config decision, not a code one: Deribit lists hundreds of BTC options
and the public subscribe rate is limited, so the defaults keep the near-dated, near-the-money part
of the surface (what an IV-surface pipeline needs) and cap the count.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from mdi.connector import ConnectorConfigBase

TickerInterval = Literal["100ms", "agg2"]

LIVE_URL = "wss://www.deribit.com/ws/api/v2"


class DeribitConfig(ConnectorConfigBase, forbid_unknown_fields=True, kw_only=True):
    """Settings of the Deribit options connector (see docs/venues/deribit.md)."""

    url: str = LIVE_URL
    # --- what to subscribe -------------------------------------------------------------
    currency: str = "BTC"
    index_name: str = "btc_usd"
    discover: bool = True
    instruments: list[str] = []
    max_days_to_expiry: Annotated[float, msgspec.Meta(ge=0)] = 60.0
    moneyness_band: Annotated[float, msgspec.Meta(ge=0, lt=1)] = 0.3
    max_instruments: Annotated[int, msgspec.Meta(ge=0)] = 300
    interval: TickerInterval = "100ms"
    dvol: bool = True
    # --- protocol pacing ---------------------------------------------------------------
    heartbeat_interval: Annotated[int, msgspec.Meta(ge=10, le=3600)] = 30
    instrument_refresh: Annotated[float, msgspec.Meta(gt=0)] = 600.0
    subscribe_chunk: Annotated[int, msgspec.Meta(ge=1, le=500)] = 100
    subscribe_rate: Annotated[float, msgspec.Meta(gt=0, le=3.3)] = 2.0

    def __post_init__(self) -> None:
        if not (self.discover or self.instruments or self.dvol):
            raise ValueError("nothing to subscribe: enable `discover` or `dvol`, or list `instruments`")

    def ticker_channel(self, instrument: str) -> str:
        return f"ticker.{instrument}.{self.interval}"

    def dvol_channel(self) -> str:
        return f"deribit_volatility_index.{self.index_name}"
