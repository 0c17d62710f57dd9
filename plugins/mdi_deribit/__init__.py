"""mdi plugin: Deribit JSON-RPC v2 option tickers and the DVOL volatility index."""
