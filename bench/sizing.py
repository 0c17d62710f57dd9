"""``python -m bench.sizing``: bytes per row of every stream, for the disk sizing in docs/scaleout.md.

Runs ``mdi demo`` (every venue's simulator, every pipeline) for ``--seconds`` into a throw-away
lake, stops it in order, and prints per stream the rows, bytes, bytes per row and what a day
costs at a few row rates. The files are as big as the run makes them (one per stream unless a
stream reaches ``buffer_rows``): short runs give small files, which compress worse, so treat the
figures as upper bounds for the shipped one-minute, 100,000-row files.

    python -m bench.sizing --seconds 40 --rate 200
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

CONFIG = """
[service]
instance = "sizing"
[connectors.kraken]
[connectors.coinbase]
[connectors.deribit]
[connectors.binance]
[pipeline.spot_mid]
[pipeline.iv_surface]
[sinks.parquet]
root = "{root}"
flush_interval = 3600.0
[http]
port = 0
[logging]
level = "WARNING"
"""
RATES = (1, 10, 100)  # rows/s for the per-day columns


def measure(root: Path) -> dict[str, tuple[int, int]]:
    """stream -> (rows, bytes) over every file of the lake."""
    rows: Counter[str] = Counter()
    size: Counter[str] = Counter()
    vdir = root / "v1"
    for path in vdir.rglob("*.parquet"):
        stream = path.relative_to(vdir).parts[0]
        rows[stream] += pq.read_metadata(path).num_rows
        size[stream] += path.stat().st_size
    return {s: (rows[s], size[s]) for s in sorted(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--rate", type=float, default=200.0, help="frames/s each simulator sends")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mdi-sizing-") as tmp:
        root = Path(tmp) / "lake"
        config = Path(tmp) / "config.toml"
        config.write_text(CONFIG.format(root=root))
        proc = subprocess.Popen([sys.executable, "-m", "mdi.cli", "demo", str(config), "--rate", str(args.rate)])
        try:
            proc.wait(args.seconds)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
        if proc.wait(120) != 0:
            raise SystemExit(f"mdi demo exited with {proc.returncode}")
        found = measure(root)
    print(f"| stream | rows | bytes/row | " + " | ".join(f"MB/day at {r} rows/s" for r in RATES) + " |")
    print("|---|---|---|" + "---|" * len(RATES))
    for stream, (rows, size) in found.items():
        per_row = size / rows
        days = " | ".join(f"{per_row * r * 86_400 / 1e6:.0f}" for r in RATES)
        print(f"| `{stream}` | {rows:,} | {per_row:.1f} | {days} |")


if __name__ == "__main__":
    main()
