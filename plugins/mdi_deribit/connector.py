"""The Deribit options connector: the shared reconnect loop plus state that outlives a connection."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from mdi.components import ConnectorContext
from mdi.connector import WsConnector

from mdi_deribit.config import DeribitConfig
from mdi_deribit.instruments import OptionMeta, parse_option_name
from mdi_deribit.session import DeribitSession

META_CACHE_LIMIT = 20_000


class DeribitConnector(WsConnector[DeribitConfig]):
    """Keeps, across reconnects, the parsed option names (parsed once, not per ticker), the last
    index price (the moneyness reference) and counts of frames deliberately ignored."""

    venue = "deribit"

    def __init__(self, config: DeribitConfig) -> None:
        super().__init__(config)
        self.reference: Decimal | None = None
        self.counts: Counter[str] = Counter()
        self._meta: dict[str, OptionMeta | None] = {}

    def new_session(self, ctx: ConnectorContext) -> DeribitSession:
        return DeribitSession(self, ctx)

    def option_meta(self, name: str) -> OptionMeta | None:
        """Expiry, strike and type of ``name`` (None for non-options); ValueError if malformed."""
        try:
            return self._meta[name]
        except KeyError:
            pass
        meta = parse_option_name(name)
        if len(self._meta) >= META_CACHE_LIMIT:
            self._meta.clear()  # expired names pile up over months; re-parsing is cheap
        self._meta[name] = meta
        return meta
