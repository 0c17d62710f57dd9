"""The Kraken connector: the shared reconnect loop plus state that must outlive a connection."""

from __future__ import annotations

from mdi.backfill import Backfiller, TradeIdGaps
from mdi.components import ConnectorContext
from mdi.connector import VenueSession, WsConnector

from mdi_kraken.config import KrakenConfig
from mdi_kraken.rest import KrakenRest
from mdi_kraken.session import KrakenSession
from mdi_kraken.tradeids import PairTradeIds
from mdi_kraken.wire import canonical_symbol


class KrakenConnector(WsConnector[KrakenConfig]):
    """Kraken Spot v2. Trade ids seen and the last id per pair survive reconnects, so the
    snapshot sent after a resubscribe is de-duplicated and a hole it cannot fill is a gap,
    repaired over REST by ``backfiller`` (which shares ``recent_trades``)."""

    venue = "kraken"

    def __init__(self, config: KrakenConfig) -> None:
        super().__init__(config)
        self.recent_trades = PairTradeIds(config.dedup_capacity)
        self.trade_gaps = TradeIdGaps(self.venue)
        self.last_trade_id: dict[str, int] = self.trade_gaps.last_id
        pairs = {canonical_symbol(s): s for s in config.symbols}
        self.backfiller = Backfiller(config, KrakenRest(self.venue, pairs), self.recent_trades, dedup_key=int)
        self.pings_sent = 0
        self.pongs = 0
        self.ignored_frames = 0
        self.system_status = ""
        self.connection_id: int | None = None

    def new_session(self, ctx: ConnectorContext) -> VenueSession:
        return KrakenSession(self, ctx)
