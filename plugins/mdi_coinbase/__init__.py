"""mdi connector plugin for Coinbase Advanced Trade market data (``ticker``, ``market_trades``)."""
