"""``[connectors.bitstamp]``: the pairs and channels to stream, plus the base liveness knobs."""

from __future__ import annotations

import msgspec

from mdi.api import ConnectorConfigBase

LIVE_URL = "wss://ws.bitstamp.net"


def pair_of(symbol: str) -> str:
    """``BTC-USD`` -> ``btcusd``, the pair name in Bitstamp's channel names."""
    return symbol.replace("-", "").lower()


class BitstampConfig(ConnectorConfigBase, forbid_unknown_fields=True, kw_only=True):
    """Bitstamp settings; the base class adds url, transport, stale_after, backoff, dedup keys.

    ``symbols`` are canonical ``BASE-QUOTE`` (``BTC-USD``), sent as Bitstamp pairs (``btcusd``).
    ``trades`` subscribes ``live_trades_<pair>`` (-> ``trade``); ``bbo`` subscribes
    ``order_book_<pair>`` (a top-100 snapshot per change; its first level -> ``bbo``).
    ``heartbeat_interval``: seconds between ``bts:heartbeat`` requests (an application ping;
    its answers are not data, so they do not hold off staleness).
    """

    url: str = LIVE_URL
    symbols: list[str] = msgspec.field(default_factory=lambda: ["BTC-USD"])
    trades: bool = True
    bbo: bool = True
    heartbeat_interval: float = 10.0

    def __post_init__(self) -> None:
        """Reject what could only fail at run time; mdi names the key and exits 2."""
        if not self.symbols:
            raise ValueError("symbols must list at least one pair such as 'BTC-USD'")
        for symbol in self.symbols:
            base, _, quote = symbol.partition("-")
            if not (base.isalnum() and quote.isalnum()) or symbol != symbol.upper():
                raise ValueError(f"symbol {symbol!r} is not of the form BASE-QUOTE in capitals, e.g. 'BTC-USD'")
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError("symbols contains duplicates")
        if not (self.trades or self.bbo):
            raise ValueError("enable at least one of trades, bbo")
        if self.heartbeat_interval <= 0:
            raise ValueError("heartbeat_interval must be > 0")
