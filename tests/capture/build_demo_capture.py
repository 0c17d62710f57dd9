"""Builds the capture bundled for ``mdi demo --capture bundled`` (``core/mdi/capture/demo/``).

A real mdi service with ``[capture]`` on connects to the Kraken and Binance simulators, which
answer its subscriptions and then send *real* venue frames recorded under ``tests/kraken/frames``
and ``tests/binance/frames`` (byte for byte; provenance in those folders' READMEs). What mdi
received is the bundled capture. Run from the repository root when those frames change:

    .venv/bin/python tests/capture/build_demo_capture.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import anyio
from mdi_binance.sim import BinanceSimulator
from mdi_kraken.sim import KrakenSimulator

from mdi.capture.format import runs
from mdi.config import parse_config
from mdi.graph import assemble
from mdi.plugins import build_plugin_host
from mdi.runtime import Service

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "core" / "mdi" / "capture" / "demo"
KRAKEN = ["ticker_snapshot_btcusd.json", "ticker_update_btcusd_timestamp_integers.json", "trade_snapshot_btcusd.json",
          "trade_update_btcusd.json", "trade_update_btcusd_after_gap.json"]
BINANCE = ["combined_markPrice_1s_btcusdt_2026-02-16.json", "combined_markPrice_1s_btcusdt_ap_2026-10.json"]
ROUNDS = 12  # ~6 s of data at 2 rounds a second


def frames(venue: str, names: list[str]) -> list[str]:
    return [(REPO / "tests" / venue / "frames" / name).read_text().strip() for name in names]


async def record(root: Path) -> Path:
    async with KrakenSimulator(heartbeat_interval=1.0) as kraken, BinanceSimulator() as binance:
        text = f"""
[connectors.kraken]
url = "{kraken.sim_url()}"
[connectors.binance]
url = "{binance.sim_url()}"
[capture]
enabled = true
root = "{root}"
[http]
enabled = false
"""
        service = Service(assemble(parse_config(text, "build_demo_capture.toml"), build_plugin_host()))
        async with anyio.create_task_group() as tg:
            await tg.start(service.run)
            with anyio.fail_after(30):
                while not (len(service.stats.venues) == 2 and all(v.state == "live" for v in service.stats.venues.values())):
                    await anyio.sleep(0.05)
            kraken_frames, binance_frames = frames("kraken", KRAKEN), frames("binance", BINANCE)
            for _ in range(ROUNDS):
                await kraken.replay(kraken_frames)
                await binance.replay(binance_frames)
                await anyio.sleep(0.5)
            service.request_stop()
    (run_dir,) = runs(root)
    return run_dir


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = anyio.run(record, Path(tmp))
        shutil.rmtree(OUT, ignore_errors=True)
        OUT.mkdir(parents=True)
        shutil.copytree(run_dir, OUT / run_dir.name)
        (OUT / run_dir.name / "config.toml").unlink(missing_ok=True)
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
