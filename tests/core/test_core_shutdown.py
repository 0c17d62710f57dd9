"""`mdi run` as a user runs it: a real process, real signals, a real durable sink on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def write_config(tmp_path: Path, close_delay: float = 0.0) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"""
[connectors.counter]
count_file = "{tmp_path / 'sent'}"
batch = 50
[sinks.jsonl]
path = "{tmp_path / 'sink.jsonl'}"
close_delay = {close_delay}
[http]
enabled = false
[logging]
format = "json"
""")
    return cfg


def start(cfg: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "MDI_LOAD_PLUGINS": "example"}
    return subprocess.Popen(
        [sys.executable, "-m", "mdi.cli", "run", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def wait_for_rows(path: Path, rows: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") > rows:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} did not grow")


def read_sink(path: Path) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in (line.split() for line in path.read_text().splitlines())]


def test_sigterm_during_a_flood_loses_nothing_and_sequence_resumes(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    proc = start(cfg)
    wait_for_rows(tmp_path / "sink.jsonl", 20_000)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped cleanly" in err
    rows = read_sink(tmp_path / "sink.jsonl")
    sent = int((tmp_path / "sent").read_text())
    assert len(rows) == sent > 20_000
    assert [seq for seq, _ in rows] == list(range(1, sent + 1))
    assert [tid for _, tid in rows] == list(range(sent))

    proc = start(cfg)  # the lake's watermark carries over: sequence numbers continue
    wait_for_rows(tmp_path / "sink.jsonl", sent + 5_000)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    rows = read_sink(tmp_path / "sink.jsonl")
    assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1))


def test_second_signal_forces_exit(tmp_path: Path) -> None:
    proc = start(write_config(tmp_path, close_delay=60))
    wait_for_rows(tmp_path / "sink.jsonl", 1_000)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert "forced exit" in err


def test_bad_config_exits_2_with_the_key_path(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[connectors.counter]\nbatch = "lots"\n[sinks.jsonl]\npath = "x"\n')
    result = subprocess.run([sys.executable, "-m", "mdi.cli", "run", str(cfg)], capture_output=True, text=True,
                            env={**os.environ, "MDI_LOAD_PLUGINS": "example"})
    assert result.returncode == 2
    assert f"mdi: error: {cfg}: [connectors.counter] Expected `int`, got `str` - at `connectors.counter.batch`" in result.stderr


def test_config_check_accepts_a_good_file_without_running(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "mdi.cli", "config", "check", str(write_config(tmp_path))],
                            capture_output=True, text=True, env={**os.environ, "MDI_LOAD_PLUGINS": "example"})
    assert result.returncode == 0, result.stderr
    assert "connector counter" in result.stdout and "sink      jsonl" in result.stdout
    assert result.stdout.strip().endswith("ok (2 components)")
    assert not (tmp_path / "sink.jsonl").exists()
