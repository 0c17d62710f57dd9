"""Deribit option names and the rule that picks which options to follow.

An option name is ``{UNDERLYING}-{D[D]MONYY}-{STRIKE}-{C|P}``, e.g. ``BTC-27DEC24-100000-C``;
Deribit options expire at 08:00 UTC on that date. Linear options write a decimal strike with
``d`` for the point (``MATIC_USDC-9MAR24-1d02-C`` has strike 1.02).
"""

from __future__ import annotations

from calendar import timegm
from decimal import Decimal
from typing import Iterable, NamedTuple

from mdi.events import OptionType
from mdi.prices import parse_decimal

from mdi_deribit.wire import Instrument

NS_PER_MS = 1_000_000
NS_PER_DAY = 86_400 * 1_000_000_000
EXPIRY_HOUR_UTC = 8
MONTHS = {m: i for i, m in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
)}


class OptionMeta(NamedTuple):
    expiry_ns: int
    strike: Decimal
    option_type: OptionType


def parse_expiry_ns(code: str) -> int:
    """``27DEC24`` -> ns of 2024-12-27 08:00 UTC. Raises ValueError on anything else."""
    day, month, year = code[:-5], MONTHS.get(code[-5:-2]), code[-2:]
    if not (day.isdigit() and 1 <= len(day) <= 2 and month and year.isdigit()):
        raise ValueError(f"not a Deribit expiry code: {code!r}")
    seconds = timegm((2000 + int(year), month, int(day), EXPIRY_HOUR_UTC, 0, 0))
    return seconds * 1_000_000_000


def parse_option_name(name: str) -> OptionMeta | None:
    """Expiry, strike and type of an option name; None for futures and perpetuals.

    Raises ValueError for a four-part ``-C``/``-P`` name whose date or strike is malformed.
    """
    parts = name.split("-")
    if len(parts) != 4 or parts[3] not in ("C", "P"):
        return None
    strike = parse_decimal(parts[2].replace("d", "."))
    option_type: OptionType = "C" if parts[3] == "C" else "P"
    return OptionMeta(parse_expiry_ns(parts[1]), strike, option_type)


def _distance(strike: Decimal, reference: Decimal | None) -> Decimal:
    """Relative distance of a strike from the reference (0 = at the money)."""
    return abs(strike / reference - 1) if reference else Decimal(0)


def select_options(
    listed: Iterable[Instrument],
    *,
    currency: str,
    now_ns: int,
    max_days_to_expiry: float,
    moneyness_band: float,
    max_instruments: int,
    reference: Decimal | None,
) -> list[str]:
    """The options to follow, closest to the money first.

    Keeps active, unexpired options of ``currency`` expiring within ``max_days_to_expiry`` days
    (0 = any) whose strike is within ``moneyness_band`` of ``reference`` (relative, 0 = any; not
    applied while no reference is known). Ranks by distance from the reference, then expiry, then
    strike, and keeps the first ``max_instruments`` (0 = all), so a cap trims far wings first and
    keeps every expiry's at-the-money strikes.
    """
    horizon = now_ns + int(max_days_to_expiry * NS_PER_DAY) if max_days_to_expiry > 0 else None
    band = Decimal(str(moneyness_band)) if moneyness_band > 0 and reference else None
    ranked: list[tuple[Decimal, int, Decimal, str]] = []
    for inst in listed:
        if inst.kind != "option" or not inst.is_active or inst.strike is None:
            continue
        if inst.base_currency and inst.base_currency != currency:
            continue
        expiry_ns = inst.expiration_timestamp * NS_PER_MS
        if expiry_ns <= now_ns or (horizon is not None and expiry_ns > horizon):
            continue
        distance = _distance(inst.strike, reference)
        if band is not None and distance > band:
            continue
        ranked.append((distance, expiry_ns, inst.strike, inst.instrument_name))
    ranked.sort()
    if max_instruments > 0:
        ranked = ranked[:max_instruments]
    return [name for *_, name in ranked]
