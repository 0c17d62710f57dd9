"""``[connectors.kraken]``: which pairs and channels to stream, and the liveness knobs."""

from __future__ import annotations

from typing import Literal

import msgspec

from mdi.backfill import BackfillConfigBase

LIVE_URL = "wss://ws.kraken.com/v2"
LIVE_REST_URL = "https://api.kraken.com"


class KrakenConfig(BackfillConfigBase, forbid_unknown_fields=True, kw_only=True):
    """Kraken Spot v2 settings; the base class adds url/transport/staleness/backoff keys.

    ``symbols`` are Kraken pair names (``BTC/USD``); events carry the canonical ``BTC-USD``.
    ``ping_after``: send an application ``{"method":"ping"}`` when no frame arrived for this many
    seconds (Kraken closes idle connections after about a minute; 0 disables pings).
    ``trade_gap_check``: Kraken's ``trade_id`` is a per-pair sequence, so a jump is reported as a
    ``SequenceGap`` on channel ``trade``, and the hole is repaired from ``GET /0/public/Trades``
    (``rest_url``, ``backfill*`` keys: see :class:`mdi.backfill.BackfillConfigBase`). Kraken's
    public REST limit is about one request per second per IP and pair.
    """

    url: str = LIVE_URL
    symbols: list[str] = msgspec.field(default_factory=lambda: ["BTC/USD"])
    bbo: bool = True
    trades: bool = True
    event_trigger: Literal["bbo", "trades"] = "bbo"
    trade_snapshot: bool = True
    ping_after: float = 10.0
    trade_gap_check: bool = True
    rest_url: str = LIVE_REST_URL
    backfill_min_interval: float = 1.0

    def __post_init__(self) -> None:
        """Reject configs that could only fail at run time (msgspec reports the key path)."""
        if not self.symbols:
            raise ValueError("symbols must list at least one Kraken pair such as 'BTC/USD'")
        for symbol in self.symbols:
            base, sep, quote = symbol.partition("/")
            if not sep or not base or not quote or "/" in quote:
                raise ValueError(f"symbol {symbol!r} is not a Kraken v2 pair of the form BASE/QUOTE")
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError("symbols contains duplicates")
        if not (self.bbo or self.trades):
            raise ValueError("enable at least one of bbo, trades")
        if self.ping_after < 0:
            raise ValueError("ping_after must be >= 0 (0 disables pings)")
        if self.stale_after <= 0:
            raise ValueError("stale_after must be > 0")
        self.check_backfill()
