"""``[connectors.binance]``: which USD-M contracts to stream, the stream, and the pacing knobs."""

from __future__ import annotations

import math
import re

import msgspec

from mdi.connector import ConnectorConfigBase, WsConnector

# Since 2026-04-23 USD-M streams are routed by path; markPrice lives under /market.
LIVE_URL = "wss://fstream.binance.com/market/stream"
MAX_STREAMS_PER_CONNECTION = 1024
MAX_MESSAGES_PER_SECOND = 10  # Binance's limit on what a client sends per connection
HOURS = 3600.0

_SYMBOL = re.compile(r"^[A-Za-z0-9_]+$")
_STREAM_SUFFIX = re.compile(r"^markPrice(@1s)?$")


class BinanceConfig(ConnectorConfigBase, forbid_unknown_fields=True, kw_only=True):
    """Binance USD-M futures mark price settings; the base class adds transport/backoff keys.

    ``symbols`` are Binance contract names (``BTCUSDT``); events carry canonical names
    (``BTC-USDT-PERP``; ``symbol_map`` overrides). ``stream`` is the stream suffix:
    ``markPrice@1s`` (one update per second) or ``markPrice`` (every 3 s).
    ``max_requests_per_second`` paces what the client sends (Binance disconnects above 10 per
    second, pongs included); ``streams_per_request`` is how many streams one SUBSCRIBE carries.
    ``max_connection_age`` reconnects before Binance's own 24-hour cut.
    """

    url: str = LIVE_URL
    symbols: list[str] = msgspec.field(default_factory=lambda: ["BTCUSDT"])
    stream: str = "markPrice@1s"
    symbol_map: dict[str, str] = msgspec.field(default_factory=dict)
    stale_after: float = 10.0
    max_connection_age: float = 23.5 * HOURS
    max_requests_per_second: int = 5
    streams_per_request: int = 100

    def __post_init__(self) -> None:
        """Reject configs that could only fail at run time (msgspec reports the key path)."""
        self._check_symbols()
        if not _STREAM_SUFFIX.match(self.stream):
            raise ValueError(f"stream {self.stream!r} is not supported: use 'markPrice@1s' or 'markPrice'")
        if not 0 < self.max_requests_per_second <= MAX_MESSAGES_PER_SECOND:
            raise ValueError(f"max_requests_per_second must be between 1 and {MAX_MESSAGES_PER_SECOND}")
        if self.streams_per_request < 1:
            raise ValueError("streams_per_request must be >= 1")
        if self.stale_after <= 0:
            raise ValueError("stale_after must be > 0")
        if self.max_connection_age < 0 or self.max_connection_age > 24 * HOURS:
            raise ValueError("max_connection_age must be in [0, 86400] s: Binance cuts connections at 24 h")
        pacing = self.subscribe_duration()
        if pacing >= self.ack_timeout:
            raise ValueError(
                f"{self.request_count()} SUBSCRIBE requests at {self.max_requests_per_second}/s take {pacing:.1f}s, "
                f"longer than ack_timeout={self.ack_timeout}s: raise streams_per_request or ack_timeout"
            )

    def _check_symbols(self) -> None:
        if not self.symbols:
            raise ValueError("symbols must list at least one contract such as 'BTCUSDT'")
        for symbol in self.symbols:
            if not _SYMBOL.match(symbol):
                raise ValueError(f"symbol {symbol!r} is not a Binance contract name such as 'BTCUSDT'")
        if len({s.upper() for s in self.symbols}) != len(self.symbols):
            raise ValueError("symbols contains duplicates")
        if len(self.symbols) > MAX_STREAMS_PER_CONNECTION:
            raise ValueError(f"at most {MAX_STREAMS_PER_CONNECTION} streams per connection, got {len(self.symbols)}")

    def stream_names(self) -> list[str]:
        """Stream names as Binance spells them: lower-case symbol, ``@``, the suffix."""
        return [f"{symbol.lower()}@{self.stream}" for symbol in self.symbols]

    def request_count(self) -> int:
        return math.ceil(len(self.symbols) / self.streams_per_request)

    def pacing_window(self) -> float:
        """Seconds in which at most ``max_requests_per_second`` requests leave (see pacing.py)."""
        return 1.0 + WsConnector.tick

    def subscribe_duration(self) -> float:
        """How long pacing spreads the SUBSCRIBE requests of one connection over, at most."""
        return ((self.request_count() - 1) // self.max_requests_per_second) * self.pacing_window()
