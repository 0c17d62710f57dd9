"""`mdi.testing.capture` drives tests from a capture, and `mdi demo --capture bundled` replays the
capture shipped in the package (real Kraken and Binance frames, see build_demo_capture.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from mdi.cli.demo_cmd import BUNDLED
from mdi.events import Trade
from mdi.testing.capture import received_frames, replay_capture

pytestmark = pytest.mark.anyio
FRAMES = Path(__file__).resolve().parents[1] / "kraken" / "frames"


def real_trades() -> set[tuple[int, Decimal]]:
    """(trade id, price) of every trade in the real Kraken frames the bundle was built from."""
    out = set()
    for name in ("trade_snapshot_btcusd.json", "trade_update_btcusd.json", "trade_update_btcusd_after_gap.json"):
        for t in json.loads((FRAMES / name).read_text(), parse_float=Decimal)["data"]:
            out.add((int(t["trade_id"]), Decimal(t["price"])))
    return out


async def test_replay_capture_returns_the_events_the_sessions_make() -> None:
    events = await replay_capture(BUNDLED, "[connectors.kraken]\n[connectors.binance]\n")
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    trades = {(int(e.trade_id), e.price) for e in events if isinstance(e, Trade) and e.venue == "kraken"}
    assert real_trades() <= trades  # every real trade came through the Kraken session, exactly
    kinds = {type(e).__struct_config__.tag for e in events}
    assert {"trade", "bbo", "mark_price", "status"} <= kinds


def test_received_frames_are_the_venue_bytes() -> None:
    frames = [f for _, f in received_frames(BUNDLED, "kraken")]
    real = (FRAMES / "trade_update_btcusd.json").read_text().strip().encode()
    assert real in frames
    times = [t for t, _ in received_frames(BUNDLED, "binance")]
    assert times == sorted(times) and len(times) > 10


def test_demo_replays_the_bundled_capture_into_the_demo_lake(tmp_path: Path) -> None:
    cfg = tmp_path / "demo.toml"
    cfg.write_text(f'[connectors.kraken]\n[connectors.binance]\n[sinks.parquet]\nroot = "{tmp_path / "lake"}"\n'
                   '[logging]\nlevel = "ERROR"\n')
    # A real process: `mdi demo` sets up logging, which must not leak into other tests' CliRunner.
    result = subprocess.run([sys.executable, "-m", "mdi.cli", "demo", str(cfg), "--capture", "bundled"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "replayed run-" in result.stderr
    assert not (tmp_path / "lake").exists()  # a demo never writes into the configured lake
    written = {p.parts[-4] for p in (tmp_path / "lake-demo" / "v1").rglob("*.parquet")}
    assert {"trade", "bbo", "mark_price", "status"} <= written
