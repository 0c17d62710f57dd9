"""The consolidated spot mid as pure functions of the latest BBOs, the clock and the config.

Everything is exact ``Decimal`` arithmetic in one fixed context (precision 50, ROUND_HALF_EVEN),
so a snapshot is a deterministic function of its inputs: the run loop only feeds these functions.
Rounding happens in exactly two places, both ROUND_HALF_EVEN: every published mid is quantized to
``price_places`` (a half-sum adds one decimal place, so BTC-USD quotes with 1-2 places are never
rounded), and the divergence is quantized to 0.01 bps. Thresholds are compared with the published
(rounded) numbers, so anyone can re-derive the quality flag from the record.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Mapping, Sequence

from mdi.events import BBO, Quality, SpotMid, VenueMid
from mdi.ticking import seconds_to_ns
from mdi.timeutil import NS_PER_MS

from mdi_spot_mid.config import SpotMidConfig

CTX = Context(prec=50, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
BPS_QUANTUM = Decimal("0.01")
BPS_PER_UNIT = Decimal(10_000)
TWO = Decimal(2)

# VenueMid.reason values; a venue is used only when fresh and its reason is empty.
NO_DATA = "no data"
STALE = "stale"
NON_POSITIVE = "non-positive price"
CROSSED = "crossed book"
LOCKED = "locked book"


def half_sum(a: Decimal, b: Decimal, quantum: Decimal) -> Decimal:
    """``(a + b) / 2`` quantized to ``quantum``: a venue mid, or the median of an even count."""
    return CTX.divide(CTX.add(a, b), TWO).quantize(quantum, context=CTX)


def median(values: Sequence[Decimal], quantum: Decimal) -> Decimal:
    """Middle value; for an even count the half-sum of the two middle values (quantized)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle].quantize(quantum, context=CTX)
    return half_sum(ordered[middle - 1], ordered[middle], quantum)


def divergence_bps(mids: Sequence[Decimal], reference: Decimal) -> Decimal:
    """``(max - min) / reference * 10000``, quantized to 0.01 bps (ROUND_HALF_EVEN)."""
    spread = CTX.subtract(max(mids), min(mids))
    return CTX.multiply(CTX.divide(spread, reference), BPS_PER_UNIT).quantize(BPS_QUANTUM, context=CTX)


def book_problem(bbo: BBO) -> str:
    """Why a fresh book is unusable (``""`` when sane: both prices positive and bid < ask)."""
    if bbo.bid_px <= 0 or bbo.ask_px <= 0:
        return NON_POSITIVE
    if bbo.bid_px > bbo.ask_px:
        return CROSSED
    if bbo.bid_px == bbo.ask_px:
        return LOCKED
    return ""


def assess_venue(venue: str, bbo: BBO | None, now_ns: int, stale_ns: int, quantum: Decimal) -> VenueMid:
    """One venue's mid, age and usability at ``now_ns``; freshness is judged on ``ts_recv``."""
    if bbo is None:
        return VenueMid(venue=venue, mid=None, age_ms=None, fresh=False, reason=NO_DATA)
    age_ns = now_ns - bbo.ts_recv
    fresh = age_ns < stale_ns
    problem = book_problem(bbo)
    mid = None if problem == NON_POSITIVE else half_sum(bbo.bid_px, bbo.ask_px, quantum)
    reason = problem if fresh else STALE
    return VenueMid(venue=venue, mid=mid, age_ms=age_ns // NS_PER_MS, fresh=fresh, reason=reason)


def consolidate(
    config: SpotMidConfig, latest: Mapping[tuple[str, str], BBO], now_ns: int, bucket_ns: int
) -> SpotMid:
    """The ``spot_mid_1s`` event for boundary ``bucket_ns``, computed at ``now_ns`` (its ts_recv)."""
    quantum = Decimal(1).scaleb(-config.price_places)
    stale_ns = seconds_to_ns(config.stale_after)
    venue_mids = [
        assess_venue(v, latest.get((v, config.symbol)), now_ns, stale_ns, quantum) for v in config.venues
    ]
    used = [vm for vm in venue_mids if vm.fresh and not vm.reason]
    suspect = [f"{vm.venue}: {vm.reason}" for vm in venue_mids if vm.fresh and vm.reason]
    degraded = [f"{vm.venue}: {vm.reason}" for vm in venue_mids if not vm.fresh]
    mid: Decimal | None = None
    divergence: Decimal | None = None
    if not used:
        suspect.append("no sane venue" if any(vm.fresh for vm in venue_mids) else "no fresh venue")
    elif len(used) == 1:
        mid = used[0].mid
        degraded.append("only one usable venue")
    else:
        mids = [vm.mid for vm in used if vm.mid is not None]
        mid = median(mids, quantum)
        divergence = divergence_bps(mids, mid)
        if divergence > config.max_divergence_bps:
            suspect.append(f"divergence {divergence} bps > {config.max_divergence_bps} bps")
    quality: Quality = "Suspect" if suspect else "Degraded" if degraded else "Ok"
    return SpotMid(
        venue="mdi",
        symbol=config.symbol,
        ts_recv=now_ns,
        ts_exchange=bucket_ns,
        ts_bucket=bucket_ns,
        mid=mid,
        quality=quality,
        reason="; ".join(suspect + degraded),
        venues_used=[vm.venue for vm in used],
        venue_mids=venue_mids,
        divergence_bps=divergence,
    )
