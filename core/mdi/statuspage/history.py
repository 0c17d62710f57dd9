"""A small, bounded memory of the derived streams, for the status page's charts.

The page shows the last minutes of ``spot_mid_1s`` and the latest ``iv_surface_snapshot`` of
each expiry. Both are *derived* streams (a few events per second at most), so the router hands
this object every derived batch it takes (:attr:`mdi.router.Router.derived_taps`): nothing is
added to the per-event cost of connector data, and the page never reads the lake or Redis.

Memory is bounded: ``spot_points`` per symbol (one point a second) and ``max_expiries``
snapshots (the nearest expiries are kept; the furthest is evicted).
"""

from __future__ import annotations

import logging
from collections import deque
from decimal import Decimal
from typing import Any

from mdi.events import EventBase, IVSurfaceSnapshot, SpotMid

log = logging.getLogger("mdi.statuspage")

DEFAULT_SPOT_POINTS = 300  # five minutes of spot_mid_1s
DEFAULT_MAX_EXPIRIES = 6
NS_PER_S = 1_000_000_000


def _text(value: Decimal | None) -> str | None:
    """Exact decimal text (the browser parses it for drawing only)."""
    return None if value is None else str(value)


class DerivedHistory:
    """Latest spot mids and IV smiles; fed with derived batches, read by ``/status.json``."""

    def __init__(self, spot_points: int = DEFAULT_SPOT_POINTS, max_expiries: int = DEFAULT_MAX_EXPIRIES) -> None:
        if spot_points < 1 or max_expiries < 1:
            raise ValueError("spot_points and max_expiries must be >= 1")
        self.spot_points = spot_points
        self.max_expiries = max_expiries
        self.spot: dict[str, deque[SpotMid]] = {}
        self.surfaces: dict[tuple[str, int], IVSurfaceSnapshot] = {}
        self.observed = 0
        self.errors = 0

    def observe(self, batch: list[EventBase]) -> None:
        """Keep what the page draws from one derived batch. Never raises: the router calls it."""
        try:
            for event in batch:
                kind = type(event)
                if kind is SpotMid:
                    self._spot(event)  # type: ignore[arg-type]
                elif kind is IVSurfaceSnapshot:
                    self._surface(event)  # type: ignore[arg-type]
            self.observed += len(batch)
        except Exception:  # noqa: BLE001 - a display aid must never stop the router
            self.errors += 1
            log.exception("status page history failed on a derived batch")

    def _spot(self, event: SpotMid) -> None:
        points = self.spot.get(event.symbol)
        if points is None:
            points = self.spot[event.symbol] = deque(maxlen=self.spot_points)
        points.append(event)

    def _surface(self, event: IVSurfaceSnapshot) -> None:
        for key in [k for k in self.surfaces if k[1] <= event.ts_bucket]:
            del self.surfaces[key]  # expired: the page shows live expiries only
        self.surfaces[(event.symbol, event.expiry_ns)] = event
        while len(self.surfaces) > self.max_expiries:
            furthest = max(self.surfaces, key=lambda key: key[1])
            del self.surfaces[furthest]

    # ----- reading ----------------------------------------------------------------------
    def spot_json(self) -> dict[str, list[dict[str, Any]]]:
        """``symbol -> [{t, mid, quality, reason, venues: {venue: {mid, fresh}}}]`` (t in s)."""
        return {symbol: [_spot_point(p) for p in points] for symbol, points in list(self.spot.items())}

    def surfaces_json(self, now_ns: int) -> list[dict[str, Any]]:
        """Latest snapshot per expiry, nearest expiry first; expired ones are left out."""
        live = [s for s in list(self.surfaces.values()) if s.expiry_ns > now_ns]
        return [_surface(s) for s in sorted(live, key=lambda s: s.expiry_ns)]


def _spot_point(p: SpotMid) -> dict[str, Any]:
    return {
        "t": p.ts_bucket / NS_PER_S,
        "mid": _text(p.mid),
        "quality": p.quality,
        "reason": p.reason,
        "divergence_bps": _text(p.divergence_bps),
        "venues": {v.venue: {"mid": _text(v.mid), "fresh": v.fresh, "age_ms": v.age_ms} for v in p.venue_mids},
    }


def _surface(s: IVSurfaceSnapshot) -> dict[str, Any]:
    return {
        "symbol": s.symbol,
        "venue": s.venue,
        "expiry": s.expiry_ns / NS_PER_S,
        "t": s.ts_bucket / NS_PER_S,
        "forward": _text(s.forward),
        "atm_iv": _text(s.atm_iv),
        "quality": s.quality,
        "reason": s.reason,
        "smile": [
            {"strike": _text(q.strike), "type": q.option_type, "mark_iv": _text(q.mark_iv),
             "bid_iv": _text(q.bid_iv), "ask_iv": _text(q.ask_iv)}
            for q in s.smile
        ],
    }


__all__ = ["DEFAULT_MAX_EXPIRIES", "DEFAULT_SPOT_POINTS", "DerivedHistory"]
