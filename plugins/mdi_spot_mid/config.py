"""``[pipeline.spot_mid]``: which venues make the consolidated mid, and the quality limits."""

from __future__ import annotations

from decimal import Decimal

import msgspec


class SpotMidConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Settings of the consolidated spot mid (see docs/pipelines.md for the method).

    ``interval``: seconds between snapshots; snapshots fall on multiples of it since the epoch.
    ``venues``: connector names whose BBO for ``symbol`` is consolidated, in report order.
    ``stale_after``: seconds; a BBO is fresh while ``now - bbo.ts_recv < stale_after``.
    ``max_divergence_bps``: the largest spread between venue mids that is still ``Ok``.
    ``price_places``: decimal places of every published mid (ROUND_HALF_EVEN; exact for BTC-USD).
    """

    interval: float = 1.0
    venues: list[str] = msgspec.field(default_factory=lambda: ["kraken", "coinbase"])
    symbol: str = "BTC-USD"
    stale_after: float = 5.0
    max_divergence_bps: Decimal = Decimal("10")
    price_places: int = 8

    def __post_init__(self) -> None:
        """Reject settings that could only misbehave at run time (msgspec reports the key path)."""
        if self.interval <= 0:
            raise ValueError("interval must be > 0 seconds")
        if not self.venues:
            raise ValueError("venues must name at least one connector, e.g. ['kraken', 'coinbase']")
        if len(set(self.venues)) != len(self.venues):
            raise ValueError("venues contains duplicates")
        if not self.symbol:
            raise ValueError("symbol must not be empty")
        if self.stale_after <= 0:
            raise ValueError("stale_after must be > 0 seconds")
        if not self.max_divergence_bps.is_finite() or self.max_divergence_bps < 0:
            raise ValueError("max_divergence_bps must be a finite number >= 0")
        if not 0 <= self.price_places <= 18:
            raise ValueError("price_places must be between 0 and 18")
