"""Bitstamp WebSocket v2 for mdi: ``live_trades_<pair>`` -> ``trade``, ``order_book_<pair>`` -> ``bbo``."""
