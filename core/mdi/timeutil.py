"""Timestamps as integer nanoseconds since the epoch (UTC), parsed exactly from venue text.

Venues send RFC 3339 with 0-9 fractional digits (Coinbase trims trailing zeros). ``datetime``
holds only microseconds, so the fraction is parsed by hand and the whole-second part is cached:
consecutive frames share their second, which makes the common case a dict hit.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from functools import lru_cache

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
NS_PER_US = 1_000


def now_ns() -> int:
    """Wall-clock receive time in ns (UTC epoch)."""
    return time.time_ns()


@lru_cache(maxsize=4096)
def _whole_seconds(prefix: str) -> int:
    dt = datetime.fromisoformat(prefix)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp()) * NS_PER_S


# 10 ** (9 - n): the ns value of one unit in the n-th fractional digit.
_FRACTION_SCALE = tuple(10 ** (9 - n) for n in range(10))
# The fast path's own whole-second cache: a plain dict lookup is cheaper than calling the
# lru_cache'd parser, and nearly every frame repeats the previous frame's second.
_SECONDS: dict[str, int] = {}
_SECONDS_KEPT = 4096


def parse_rfc3339_ns(text: str) -> int:
    """``2024-05-27T12:33:10.826003Z`` -> ns since epoch. Raises ValueError on malformed text.

    The shape every venue sends (``.`` + 1-9 digits + ``Z``) takes a fast path of a few C-level
    string operations (it runs once per frame); anything else goes through the general parser.
    """
    if len(text) < 20:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    base = text[:19]
    if text[19] == "." and text[-1] == "Z":
        digits = text[20:-1]
        n = len(digits)
        if 0 < n <= 9 and digits.isdigit():
            seconds = _SECONDS.get(base)
            if seconds is None:
                if len(_SECONDS) >= _SECONDS_KEPT:
                    _SECONDS.clear()
                seconds = _SECONDS[base] = _whole_seconds(base)
            return seconds + int(digits) * _FRACTION_SCALE[n]
    rest = text[19:]
    frac_ns = 0
    if rest.startswith("."):
        end = 1
        while end < len(rest) and rest[end].isdigit():
            end += 1
        digits = rest[1:end]
        if not digits or len(digits) > 9:
            raise ValueError(f"bad fractional seconds in {text!r}")
        frac_ns = int(digits.ljust(9, "0"))
        rest = rest[end:]
    if rest in ("Z", "z", "+00:00", ""):
        return _whole_seconds(base) + frac_ns
    return _whole_seconds(base + rest) + frac_ns


def ms_to_ns(ms: int) -> int:
    return ms * NS_PER_MS
