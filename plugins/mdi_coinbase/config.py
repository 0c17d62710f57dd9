"""``[connectors.coinbase]``: which products and channels to stream, and the liveness knobs."""

from __future__ import annotations

import msgspec

from mdi.backfill import BackfillConfigBase

LIVE_URL = "wss://advanced-trade-ws.coinbase.com"
LIVE_REST_URL = "https://api.coinbase.com"


class CoinbaseConfig(BackfillConfigBase, forbid_unknown_fields=True, kw_only=True):
    """Coinbase Advanced Trade settings; the base class adds url/transport/staleness/backoff keys.

    ``symbols`` are Coinbase product ids (``BTC-USD``), which are already canonical.
    ``bbo`` subscribes ``ticker`` (-> ``bbo`` events), ``trades`` subscribes ``market_trades``
    (-> ``trade`` events), ``heartbeats`` subscribes ``heartbeats``, which keeps the other
    channels open when the market is quiet (Coinbase closes a channel after 60-90 s without
    updates) and lets the connector spot missing heartbeats.
    ``wire_side_is_maker``: Coinbase's ``market_trades.side`` is the side of the resting (maker)
    order: in the 2026 live capture 49 of 51 ``SELL`` prints were at the best ask. Events carry
    the aggressor (taker) side like every other venue, so the wire side is inverted; set this to
    false to pass the wire side through unchanged.
    ``trade_gap_check``: Coinbase numbers trades consecutively per product, so a jump in
    ``trade_id`` (across a reconnect, say) is a ``SequenceGap`` on channel ``trade``, repaired from
    the public market trades endpoint (``rest_url``, ``backfill*`` keys: see
    :class:`mdi.backfill.BackfillConfigBase`; public limit 10 requests/s per IP).
    """

    url: str = LIVE_URL
    symbols: list[str] = msgspec.field(default_factory=lambda: ["BTC-USD"])
    bbo: bool = True
    trades: bool = True
    heartbeats: bool = True
    wire_side_is_maker: bool = True
    trade_gap_check: bool = True
    rest_url: str = LIVE_REST_URL
    backfill_min_interval: float = 0.2

    def __post_init__(self) -> None:
        """Reject configs that could only fail at run time (msgspec reports the key path)."""
        if not self.symbols:
            raise ValueError("symbols must list at least one Coinbase product id such as 'BTC-USD'")
        for symbol in self.symbols:
            if not symbol or symbol != symbol.strip() or " " in symbol or "-" not in symbol:
                raise ValueError(f"symbol {symbol!r} is not a Coinbase product id of the form BASE-QUOTE")
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError("symbols contains duplicates")
        if not (self.bbo or self.trades):
            raise ValueError("enable at least one of bbo, trades")
        if self.stale_after <= 0:
            raise ValueError("stale_after must be > 0")
        self.check_backfill()
