"""Binance contract names -> canonical symbols (``BTCUSDT`` -> ``BTC-USDT-PERP``).

A USD-M perpetual is ``<BASE><QUOTE>``; a delivery contract adds ``_<YYMMDD>``; COIN-M
perpetuals end in ``_PERP``. The quote is found by its exact suffix, longest first.
"""

from __future__ import annotations

QUOTES: tuple[str, ...] = ("FDUSD", "USDT", "USDC", "BUSD", "USD")


def canonical_symbol(symbol: str) -> str:
    """``BTCUSDT`` -> ``BTC-USDT-PERP``, ``BTCUSDT_260626`` -> ``BTC-USDT-260626``,
    ``BTCUSD_PERP`` -> ``BTC-USD-PERP``; a name with no known quote is returned upper-cased."""
    name = symbol.upper()
    pair, sep, expiry = name.partition("_")
    for quote in QUOTES:
        if pair.endswith(quote) and len(pair) > len(quote):
            return f"{pair[: -len(quote)]}-{quote}-{expiry if sep else 'PERP'}"
    return name


class SymbolMap:
    """Cached mapping with config overrides; one dict hit per event on the hot path."""

    def __init__(self, overrides: dict[str, str] | None = None) -> None:
        self._cache: dict[str, str] = {k.upper(): v for k, v in (overrides or {}).items()}

    def __call__(self, symbol: str) -> str:
        found = self._cache.get(symbol)
        if found is None:
            found = self._cache[symbol] = self._cache.get(symbol.upper()) or canonical_symbol(symbol)
        return found
