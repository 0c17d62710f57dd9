"""Kraken Spot WebSocket v2 connector for mdi: ``ticker`` (BBO trigger) and ``trade`` channels."""
