"""``[pipeline.iv_surface]``: which options make the surface, the liquidity filter, the flags."""

from __future__ import annotations

from decimal import Decimal

import msgspec


class IVSurfaceConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Settings of the per-expiry IV snapshot (see docs/pipelines.md for the method).

    ``interval``: seconds between snapshots; snapshots fall on multiples of it since the epoch.
    ``venue`` / ``underlying``: tickers of ``venue`` whose instrument name starts with
    ``<underlying>-`` (``BTC-27JUN25-100000-C``) are used; snapshots carry ``symbol=underlying``.
    ``dvol_index``: ``VolIndex.index_name`` reported as ``dvol`` (reference only).
    ``stale_after`` / ``dvol_stale_after``: seconds; a ticker or DVOL print is fresh while
    ``now - ts_recv < stale_after``.
    Filter: ``max_rel_spread`` on ``(ask - bid) / mid`` of option prices, ``min_iv``..``max_iv``
    (percent, inclusive) on mark/bid/ask IV, ``min_open_interest`` (contracts, inclusive).
    Flags: ``max_bracket_width`` (fraction of the forward) and ``min_quotes_used`` make a snapshot
    ``Degraded``; ``iv_places`` is the decimal places of published IVs (ROUND_HALF_EVEN).
    """

    interval: float = 10.0
    venue: str = "deribit"
    underlying: str = "BTC"
    dvol_index: str = "btc_usd"
    stale_after: float = 30.0
    dvol_stale_after: float = 60.0
    max_rel_spread: Decimal = Decimal("0.25")
    min_iv: Decimal = Decimal("1")
    max_iv: Decimal = Decimal("400")
    min_open_interest: Decimal = Decimal("0")
    max_bracket_width: Decimal = Decimal("0.1")
    min_quotes_used: int = 4
    iv_places: int = 4

    def __post_init__(self) -> None:
        """Reject settings that could only misbehave at run time (msgspec reports the key path)."""
        if self.interval <= 0:
            raise ValueError("interval must be > 0 seconds")
        if not self.venue or not self.underlying:
            raise ValueError("venue and underlying must not be empty")
        if self.stale_after <= 0 or self.dvol_stale_after <= 0:
            raise ValueError("stale_after and dvol_stale_after must be > 0 seconds")
        for name in ("max_rel_spread", "min_iv", "max_iv", "min_open_interest", "max_bracket_width"):
            value: Decimal = getattr(self, name)
            if not value.is_finite() or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0")
        if self.min_iv > self.max_iv:
            raise ValueError("min_iv must be <= max_iv")
        if self.min_quotes_used < 0:
            raise ValueError("min_quotes_used must be >= 0")
        if not 0 <= self.iv_places <= 12:
            raise ValueError("iv_places must be between 0 and 12")
