"""The Coinbase connector: the shared reconnect loop plus state that must outlive a connection."""

from __future__ import annotations

from collections import Counter

from mdi.backfill import Backfiller, TradeIdGaps
from mdi.components import ConnectorContext
from mdi.connector import VenueSession, WsConnector
from mdi.dedup import RecentIds

from mdi_coinbase.config import CoinbaseConfig
from mdi_coinbase.rest import CoinbaseRest
from mdi_coinbase.session import AS_SENT, TAKER_FROM_MAKER, CoinbaseSession


class CoinbaseConnector(WsConnector[CoinbaseConfig]):
    """Coinbase Advanced Trade. Trade ids seen survive reconnects, so the ``market_trades``
    snapshot sent after every resubscribe (the last trades, newest first) is de-duplicated, and
    a jump in a product's trade ids is a hole that ``backfiller`` repairs over REST.

    ``ignored`` counts frames deliberately not turned into events, by reason (``channel:l2_data``,
    ``ticker_without_bbo``, ``heartbeat_repeat``, ``sequence_behind``, ``ack_not_requested``).
    """

    venue = "coinbase"

    def __init__(self, config: CoinbaseConfig) -> None:
        super().__init__(config)
        self.recent_trades = RecentIds(config.dedup_capacity)
        self.trade_gaps = TradeIdGaps(self.venue)
        sides = TAKER_FROM_MAKER if config.wire_side_is_maker else AS_SENT
        self.backfiller = Backfiller(config, CoinbaseRest(self.venue, sides), self.recent_trades, dedup_key=str)
        self.ignored: Counter[str] = Counter()
        self.heartbeats = 0

    def new_session(self, ctx: ConnectorContext) -> VenueSession:
        return CoinbaseSession(self, ctx)
