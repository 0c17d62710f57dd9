"""Done-when of issue 13, with real processes: `mdi demo` (four venue simulators on loopback)
records with capture on; two `mdi replay --max` runs of its capture fill two new lakes. The two
replayed lakes are identical (every row, every column, seq included) and their venue rows equal
the live lake's value for value. The reader script printed in docs/capture.md reads the capture."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from capture_support import VENUE_STREAMS, read_lake, rows_without_seq
from demo_support import demo_toml

from mdi.capture.format import RECV, batch_frames, read_segment

DOCS = Path(__file__).resolve().parents[2] / "docs" / "capture.md"


def write_config(path: Path, lake: Path, capture: Path | None) -> Path:
    path.write_text(demo_toml(lake, sections=f'[capture]\nenabled = true\nroot = "{capture}"' if capture else ""))
    return path


def mdi(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "mdi.cli", *args], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_live_capture_replays_twice_into_identical_lakes_matching_live(tmp_path: Path) -> None:
    capture = tmp_path / "capture"
    live_cfg = write_config(tmp_path / "live.toml", tmp_path / "live", capture)
    mdi("demo", str(live_cfg), "--rate", "40", "--duration", "3", "--use-configured-sinks")
    lakes = []
    for name in ("r1", "r2"):
        cfg = write_config(tmp_path / f"{name}.toml", tmp_path / name, None)
        out = mdi("replay", str(capture), str(cfg), "--max")
        assert re.search(r"replayed run-\S+: \d+ frames", out.stderr), out.stderr
        lakes.append(read_lake(tmp_path / name))
    live = read_lake(tmp_path / "live")
    first, second = lakes
    assert set(first) == set(second) and {"trade", "bbo", "option_ticker", "mark_price", "vol_index", "status", "spot_mid_1s"} <= set(first)
    for stream in first:
        assert first[stream].equals(second[stream]), f"{stream}: the two replays differ"
    for stream in VENUE_STREAMS:
        if stream in live or stream in first:
            assert rows_without_seq(live[stream]) == rows_without_seq(first[stream]), f"{stream}: replay differs from live"
    assert live["trade"].num_rows > 20 and live["bbo"].num_rows > 20
    _docs_script_reads_the_capture(tmp_path, capture)


def _docs_script_reads_the_capture(tmp_path: Path, capture: Path) -> None:
    """The ~20-line reader in docs/capture.md, run as written, sees every recorded frame."""
    text = DOCS.read_text()
    script = re.search(r"```python\n(.*?)```", text, re.S)
    assert script, "docs/capture.md has no python reader script"
    assert len(script.group(1).splitlines()) <= 25  # "a ~20-line script"
    path = tmp_path / "reader.py"
    path.write_text(script.group(1))
    proc = subprocess.run([sys.executable, str(path), str(capture)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    expected = []
    for segment in sorted(capture.rglob("*.mdicap.zst*")):
        header, records = read_segment(segment)
        expected += [(header["connector"], r.conn, r.t_ns) for r in records if r.kind == RECV for _ in batch_frames(r.payload)]
    assert len(lines) == len(expected) > 100
    assert [tuple(line.split(" ", 3)[:3]) for line in lines] == [(c, str(n), str(t)) for c, n, t in expected]
    assert {line.split()[0] for line in lines} == {"kraken", "coinbase", "deribit", "binance"}


def test_a_capture_cut_by_kill_9_still_replays(tmp_path: Path) -> None:
    """SIGKILL mid-stream leaves `.open` segments; what was flushed replays, the same way twice."""
    import signal
    import time

    capture = tmp_path / "capture"
    live_cfg = write_config(tmp_path / "live.toml", tmp_path / "live", capture)
    proc = subprocess.Popen([sys.executable, "-m", "mdi.cli", "demo", str(live_cfg), "--rate", "40", "--use-configured-sinks"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _received(capture) < 200:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert any(p.name.endswith(".open") for p in capture.rglob("*"))
    received = _received(capture)
    assert received >= 200
    lakes = []
    for name in ("k1", "k2"):
        cfg = write_config(tmp_path / f"{name}.toml", tmp_path / name, None)
        out = mdi("replay", str(capture), str(cfg), "--max")
        frames = int(re.search(r"replayed run-\S+: (\d+) frames", out.stderr)[1])  # type: ignore[index]
        assert frames == received  # every frame flushed before the kill went through a session
        lakes.append(read_lake(tmp_path / name))
    assert set(lakes[0]) == set(lakes[1]) and "trade" in lakes[0]
    for stream in lakes[0]:
        assert lakes[0][stream].equals(lakes[1][stream]), stream


def _received(capture: Path) -> int:
    if not capture.exists():
        return 0
    return sum(len(batch_frames(r.payload)) for p in capture.rglob("*.mdicap.zst*") for r in read_segment(p)[1] if r.kind == RECV)
