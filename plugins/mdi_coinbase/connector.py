"""The Coinbase connector: the shared reconnect loop plus state that must outlive a connection."""

from __future__ import annotations

from collections import Counter

from mdi.components import ConnectorContext
from mdi.connector import VenueSession, WsConnector
from mdi.dedup import RecentIds

from mdi_coinbase.config import CoinbaseConfig
from mdi_coinbase.session import CoinbaseSession


class CoinbaseConnector(WsConnector[CoinbaseConfig]):
    """Coinbase Advanced Trade. Trade ids seen survive reconnects, so the ``market_trades``
    snapshot sent after every resubscribe (the last trades, newest first) is de-duplicated.

    ``ignored`` counts frames deliberately not turned into events, by reason (``channel:l2_data``,
    ``ticker_without_bbo``, ``heartbeat_repeat``, ``sequence_behind``, ``ack_not_requested``).
    """

    venue = "coinbase"

    def __init__(self, config: CoinbaseConfig) -> None:
        super().__init__(config)
        self.recent_trades = RecentIds(config.dedup_capacity)
        self.ignored: Counter[str] = Counter()
        self.heartbeats = 0

    def new_session(self, ctx: ConnectorContext) -> VenueSession:
        return CoinbaseSession(self, ctx)
