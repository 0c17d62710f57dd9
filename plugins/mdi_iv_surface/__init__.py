"""Implied-volatility surface pipeline for mdi: ATM IV and smile per expiry from Deribit tickers."""
