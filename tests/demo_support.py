"""The four-venue demo graph that the end-to-end tests run (`mdi demo` against the built-in
simulators), written once: each test adds only what it is about (a Redis sink, a capture, a
shorter stale timer, a faster Parquet flush)."""

from __future__ import annotations

from pathlib import Path


def demo_toml(lake: Path, *, kraken: str = "", parquet: str = "", sections: str = "") -> str:
    """Every venue (Deribit limited to the simulator's 30 instruments), both pipelines each
    second, Parquet into ``lake``, an ephemeral HTTP port and warnings only. ``kraken`` and
    ``parquet`` are extra lines of those tables; ``sections`` are whole extra tables."""
    return f"""
[connectors.kraken]
{kraken}
[connectors.coinbase]
[connectors.deribit]
max_instruments = 30
[connectors.binance]
[pipeline.spot_mid]
interval = 1.0
[pipeline.iv_surface]
interval = 1.0
[sinks.parquet]
root = "{lake}"
{parquet}
{sections}
[http]
port = 0
[logging]
level = "WARNING"
"""
