"""The per-expiry IV snapshot as pure functions of the latest option tickers, DVOL and the clock.

All arithmetic is ``Decimal`` in one fixed context (precision 40, ROUND_HALF_EVEN), including
the natural logarithms of the ATM interpolation (``Decimal.ln`` is correctly rounded), so a
snapshot is a deterministic function of its inputs. Published IVs are quantized to
``iv_places`` and relative spreads to 0.0001, both ROUND_HALF_EVEN; thresholds are compared with
those published numbers. The method is documented in docs/pipelines.md.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Iterable

from mdi.events import IVSurfaceSnapshot, OptionTicker, Quality, RejectCount, SmilePoint, VolIndex
from mdi.ticking import seconds_to_ns

from mdi_iv_surface.config import IVSurfaceConfig

CTX = Context(prec=40, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
SPREAD_QUANTUM = Decimal("0.0001")
TWO = Decimal(2)

# Rejection reasons, in the order they are tested (a quote counts once, under the first).
STALE = "stale"
NO_QUOTE = "no_quote"
NO_BID = "no_bid"
NO_ASK = "no_ask"
CROSSED = "crossed"
WIDE_SPREAD = "wide_spread"
NO_IV = "no_iv"
IV_BOUNDS = "iv_bounds"
LOW_OPEN_INTEREST = "low_open_interest"
REJECT_REASONS: tuple[str, ...] = (
    STALE, NO_QUOTE, NO_BID, NO_ASK, CROSSED, WIDE_SPREAD, NO_IV, IV_BOUNDS, LOW_OPEN_INTEREST,
)


def relative_spread(bid: Decimal, ask: Decimal) -> Decimal:
    """``(ask - bid) / mid`` with ``mid = (ask + bid) / 2``, quantized to 0.0001."""
    ratio = CTX.divide(CTX.multiply(TWO, CTX.subtract(ask, bid)), CTX.add(ask, bid))
    return ratio.quantize(SPREAD_QUANTUM, context=CTX)


def _quoted(price: Decimal | None, amount: Decimal | None) -> bool:
    """A book side counts only with a positive price and a positive amount."""
    return price is not None and amount is not None and price > 0 and amount > 0


def screen(
    ticker: OptionTicker, now_ns: int, stale_ns: int, config: IVSurfaceConfig
) -> tuple[str, Decimal | None]:
    """``(reason, relative spread)``; reason ``""`` means the quote passes the liquidity filter."""
    if now_ns - ticker.ts_recv >= stale_ns:
        return STALE, None
    bid, ask = ticker.best_bid_price, ticker.best_ask_price
    has_bid = _quoted(bid, ticker.best_bid_amount)
    has_ask = _quoted(ask, ticker.best_ask_amount)
    if not (has_bid or has_ask):
        return NO_QUOTE, None
    if not has_bid:
        return NO_BID, None
    if not has_ask:
        return NO_ASK, None
    assert bid is not None and ask is not None  # _quoted checked both
    if bid >= ask:
        return CROSSED, None
    spread = relative_spread(bid, ask)
    if spread > config.max_rel_spread:
        return WIDE_SPREAD, spread
    ivs = (ticker.mark_iv, ticker.bid_iv, ticker.ask_iv)
    if any(iv is None for iv in ivs):
        return NO_IV, spread
    if any(not config.min_iv <= iv <= config.max_iv for iv in ivs if iv is not None):
        return IV_BOUNDS, spread
    open_interest = ticker.open_interest if ticker.open_interest is not None else Decimal(0)
    if open_interest < config.min_open_interest:
        return LOW_OPEN_INTEREST, spread
    return "", spread


def pick_forward(tickers: Iterable[OptionTicker], now_ns: int, stale_ns: int) -> Decimal | None:
    """Deribit's underlying price for the expiry, from its freshest ticker that carries one.

    Any fresh ticker counts, even one the liquidity filter rejects: its underlying price is still
    the venue's forward. Ties on ``ts_recv`` go to the greatest instrument name (deterministic).
    """
    best: OptionTicker | None = None
    for t in tickers:
        price = t.underlying_price
        if now_ns - t.ts_recv < stale_ns and price is not None and price > 0:
            if best is None or (t.ts_recv, t.symbol) > (best.ts_recv, best.symbol):
                best = t
    return best.underlying_price if best is not None else None


def strike_ivs(used: Iterable[OptionTicker], quantum: Decimal) -> dict[Decimal, Decimal]:
    """Mark IV per strike: the mean over the strike's used quotes (call and/or put), quantized."""
    sums: dict[Decimal, Decimal] = {}
    counts: Counter[Decimal] = Counter()
    for t in used:
        assert t.mark_iv is not None  # screen() rejected quotes without one
        sums[t.strike] = CTX.add(sums.get(t.strike, Decimal(0)), t.mark_iv)
        counts[t.strike] += 1
    return {k: CTX.divide(s, Decimal(counts[k])).quantize(quantum, context=CTX) for k, s in sums.items()}


def find_bracket(strikes: Iterable[Decimal], forward: Decimal) -> tuple[Decimal | None, Decimal | None]:
    """The nearest strikes at or below and at or above the forward (equal when one is at it)."""
    ordered = list(strikes)
    lower = max((k for k in ordered if k <= forward), default=None)
    upper = min((k for k in ordered if k >= forward), default=None)
    return lower, upper


def interpolate_atm(
    forward: Decimal, lower: Decimal, lower_iv: Decimal, upper: Decimal, upper_iv: Decimal, quantum: Decimal
) -> Decimal:
    """IV at the forward, linear in log-moneyness between the bracket strikes.

    ``w = ln(F / K1) / ln(K2 / K1)`` and ``IV = IV1 + w * (IV2 - IV1)``, requiring
    ``0 < K1 <= F <= K2``; when ``K1 == K2`` (a strike at the forward) the result is ``IV1``.
    """
    if not 0 < lower <= forward <= upper:
        raise ValueError(f"forward {forward} is not bracketed by strikes {lower}..{upper}")
    if lower == upper:
        return lower_iv.quantize(quantum, context=CTX)
    weight = CTX.divide(CTX.divide(forward, lower).ln(CTX), CTX.divide(upper, lower).ln(CTX))
    iv = CTX.add(lower_iv, CTX.multiply(weight, CTX.subtract(upper_iv, lower_iv)))
    return iv.quantize(quantum, context=CTX)


def _smile_point(t: OptionTicker) -> SmilePoint:
    return SmilePoint(
        strike=t.strike, option_type=t.option_type, mark_iv=t.mark_iv, bid_iv=t.bid_iv,
        ask_iv=t.ask_iv, delta=t.greeks.delta,
    )


def filter_quotes(
    tickers: Iterable[OptionTicker], now_ns: int, stale_ns: int, config: IVSurfaceConfig
) -> tuple[list[OptionTicker], Counter[str], Decimal | None]:
    """``(used quotes by strike then C/P, rejections by reason, widest used relative spread)``."""
    rejected: Counter[str] = Counter()
    used: list[OptionTicker] = []
    widest: Decimal | None = None
    for t in tickers:
        reason, spread = screen(t, now_ns, stale_ns, config)
        if reason:
            rejected[reason] += 1
            continue
        used.append(t)
        if spread is not None and (widest is None or spread > widest):
            widest = spread
    used.sort(key=lambda t: (t.strike, t.option_type))
    return used, rejected, widest


def grade(
    config: IVSurfaceConfig,
    forward: Decimal | None,
    n_used: int,
    bracket: tuple[Decimal | None, Decimal | None],
) -> tuple[list[str], list[str]]:
    """``(Suspect causes, Degraded causes)`` of one expiry's snapshot, in documented order."""
    lower, upper = bracket
    suspect: list[str] = []
    degraded: list[str] = []
    if forward is None:
        suspect.append("no forward")
    elif not n_used:
        suspect.append("no usable quotes")
    elif lower is None:
        suspect.append("no strike at or below forward")
    elif upper is None:
        suspect.append("no strike at or above forward")
    elif CTX.subtract(upper, lower) > CTX.multiply(config.max_bracket_width, forward):
        degraded.append(f"bracket width {CTX.subtract(upper, lower)} > {config.max_bracket_width} x forward")
    if n_used and n_used < config.min_quotes_used:
        degraded.append(f"only {n_used} quotes used < {config.min_quotes_used}")
    return suspect, degraded


def expiry_snapshot(
    config: IVSurfaceConfig,
    expiry_ns: int,
    tickers: list[OptionTicker],
    dvol: Decimal | None,
    now_ns: int,
    bucket_ns: int,
) -> IVSurfaceSnapshot:
    """Filter one expiry's quotes, find the forward and its bracket, interpolate, flag."""
    quantum = Decimal(1).scaleb(-config.iv_places)
    stale_ns = seconds_to_ns(config.stale_after)
    used, rejected, widest = filter_quotes(tickers, now_ns, stale_ns, config)
    forward = pick_forward(tickers, now_ns, stale_ns)
    ivs = strike_ivs(used, quantum)
    lower, upper = find_bracket(ivs, forward) if forward is not None else (None, None)
    atm = width = None
    if forward is not None and lower is not None and upper is not None:
        atm = interpolate_atm(forward, lower, ivs[lower], upper, ivs[upper], quantum)
        width = CTX.subtract(upper, lower)
    suspect, degraded = grade(config, forward, len(used), (lower, upper))
    quality: Quality = "Suspect" if suspect else "Degraded" if degraded else "Ok"
    return IVSurfaceSnapshot(
        venue="mdi",
        symbol=config.underlying,
        ts_recv=now_ns,
        ts_exchange=bucket_ns,
        ts_bucket=bucket_ns,
        expiry_ns=expiry_ns,
        forward=forward,
        atm_iv=atm,
        lower_strike=lower,
        lower_iv=None if lower is None else ivs[lower],
        upper_strike=upper,
        upper_iv=None if upper is None else ivs[upper],
        smile=[_smile_point(t) for t in used],
        dvol=dvol,
        quotes_seen=len(tickers),
        quotes_used=len(used),
        rejected=[RejectCount(reason=r, count=rejected[r]) for r in REJECT_REASONS if rejected[r]],
        widest_spread_used=widest,
        bracket_width=width,
        quality=quality,
        reason="; ".join(suspect + degraded),
    )


def fresh_dvol(config: IVSurfaceConfig, dvol: VolIndex | None, now_ns: int) -> Decimal | None:
    """The DVOL value while it is fresh; it is reported for reference and never flags anything."""
    if dvol is None or now_ns - dvol.ts_recv >= seconds_to_ns(config.dvol_stale_after):
        return None
    return dvol.value


def build_snapshots(
    config: IVSurfaceConfig,
    tickers: Iterable[OptionTicker],
    dvol: VolIndex | None,
    now_ns: int,
    bucket_ns: int,
) -> list[IVSurfaceSnapshot]:
    """One snapshot per unexpired expiry of the configured underlying, in expiry order."""
    prefix = config.underlying + "-"
    by_expiry: defaultdict[int, list[OptionTicker]] = defaultdict(list)
    for t in tickers:
        if t.venue == config.venue and t.symbol.startswith(prefix) and t.expiry_ns > now_ns:
            by_expiry[t.expiry_ns].append(t)
    dvol_value = fresh_dvol(config, dvol, now_ns)
    return [
        expiry_snapshot(config, expiry, by_expiry[expiry], dvol_value, now_ns, bucket_ns)
        for expiry in sorted(by_expiry)
    ]
