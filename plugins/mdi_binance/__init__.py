"""mdi plugin for Binance USD-M futures mark price streams (``markPriceUpdate`` -> MarkPrice)."""
