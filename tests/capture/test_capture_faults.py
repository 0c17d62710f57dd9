"""Replay reproduces a connector's hard moments, not just a calm stream: a sequence gap, a
dropped connection and its reconnect with backoff, a stall detected as stale, a malformed frame.
A live service records a real Kraken simulator on loopback; two in-process replays of the capture
give identical lakes whose venue rows (gap and status included) equal the live ones."""

from __future__ import annotations

from pathlib import Path

import anyio
import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute
import pytest
from capture_support import VENUE_STREAMS, read_lake, rows_without_seq
from mdi_kraken.sim import KrakenSimulator

from mdi.capture.format import runs
from mdi.capture.replay import ReplayOptions, replay_run
from mdi.config import parse_config
from mdi.graph import assemble
from mdi.plugins import build_plugin_host
from mdi.runtime import Service

pytestmark = pytest.mark.anyio


def config_text(lake: Path, url: str, capture: Path | None) -> str:
    capture_section = f'[capture]\nenabled = true\nroot = "{capture}"\n' if capture else ""
    return f"""
[connectors.kraken]
url = "{url}"
stale_after = 0.5
backoff_initial = 0.05
backoff_max = 0.1
[pipeline.spot_mid]
interval = 0.25
venues = ["kraken"]
symbol = "BTC/USD"
[sinks.parquet]
root = "{lake}"
flush_interval = 0.2
[http]
enabled = false
{capture_section}"""


def graph(text: str):  # type: ignore[no-untyped-def]
    return assemble(parse_config(text, "capture.toml"), build_plugin_host())


async def wait_for(cond, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    with anyio.fail_after(timeout):
        while not cond():
            await anyio.sleep(0.01)


async def live_run(tmp_path: Path, capture: Path) -> Service:
    async with KrakenSimulator(heartbeat_interval=0.1) as sim:
        service = Service(graph(config_text(tmp_path / "live", sim.url, capture)))
        venue = lambda: service.stats.venues["kraken"]  # noqa: E731
        async with anyio.create_task_group() as tg:
            await tg.start(service.run)
            await wait_for(lambda: "kraken" in service.stats.venues and venue().state == "live")
            for i in range(20):
                await sim.publish_quote("BTC/USD", f"6500{i % 10}.1", "1.5", f"6500{i % 10}.3", "2")
                await sim.publish_trades("BTC/USD", [("buy", f"6500{i % 10}.2", "0.01")])
            sim.skip_trade_ids("BTC/USD", 3)
            await sim.publish_trades("BTC/USD", [("sell", "65001.0", "0.5")])
            await sim.send_raw('{"channel": "ticker", "type": "update", "data": [{"bid": "oops"}]}')
            await wait_for(lambda: venue().gaps >= 1 and venue().parse_errors >= 1)
            await sim.disconnect_all()
            await wait_for(lambda: venue().reconnects >= 1 and venue().state == "live")
            await sim.publish_quote("BTC/USD", "65010.1", "1", "65010.2", "1")
            sim.stalled = True
            await wait_for(lambda: venue().reconnects >= 2)
            sim.stalled = False
            await wait_for(lambda: venue().state == "live")
            await sim.publish_trades("BTC/USD", [("buy", "65011.0", "0.2")])
            await wait_for(lambda: venue().events >= 50)
            service.request_stop()
    return service


async def _window_replay(tmp_path: Path, run_dir: Path, live: dict) -> None:  # type: ignore[type-arg]
    """--from/--to: only the window's events are written, and every one of them."""
    recv = sorted(set(live["bbo"].column("ts_recv").to_pylist()))
    start, stop = recv[len(recv) // 4], recv[3 * len(recv) // 4]
    options = ReplayOptions(from_ns=start, to_ns=stop)
    await replay_run(graph(config_text(tmp_path / "window", "ws://unused", None)), run_dir, options)
    window = read_lake(tmp_path / "window")
    assert window["bbo"].num_rows
    for stream in VENUE_STREAMS:
        if stream in live:
            ts = live[stream]["ts_recv"]
            inside = live[stream].filter(pa.compute.and_(pa.compute.greater_equal(ts, start), pa.compute.less_equal(ts, stop)))
            got = window[stream] if stream in window else inside.slice(0, 0)
            assert rows_without_seq(got) == rows_without_seq(inside), stream  # exactly the window's rows


async def test_gaps_reconnects_and_stale_replay_as_they_happened(tmp_path: Path) -> None:
    capture = tmp_path / "capture"
    await live_run(tmp_path, capture)
    (run_dir,) = runs(capture)
    lakes = []
    # r1 at --max (the scheduler's fast path), r2 paced at a huge speed (every step granted by the
    # scheduler task): the same lake either way.
    for name, options in (("r1", ReplayOptions()), ("r2", ReplayOptions(speed=1e6))):
        service = await replay_run(graph(config_text(tmp_path / name, "ws://unused", None)), run_dir, options)
        assert service.stats.components["replay:replay"].counters["replay_diverged"] == 0
        lakes.append(read_lake(tmp_path / name))
    live = read_lake(tmp_path / "live")
    for stream in lakes[0]:
        assert lakes[0][stream].equals(lakes[1][stream]), stream
    assert set(lakes[0]) == set(lakes[1])
    for stream in VENUE_STREAMS:
        if stream in live:
            assert rows_without_seq(live[stream]) == rows_without_seq(lakes[0][stream]), stream
    await _window_replay(tmp_path, run_dir, live)
    states = live["status"].column("state").to_pylist()
    assert {"connecting", "connected", "subscribed", "disconnected", "stale"} <= set(states)
    assert live["gap"].num_rows >= 1 and "spot_mid_1s" in lakes[0]
