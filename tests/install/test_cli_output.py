"""What a user sees of mdi on the terminal: ``mdi --version``, and logs that are all JSON when the
config says ``json`` (a log shipper parses every line) and human lines when it says ``text``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import mdi
from mdi.cli import build_app
from mdi.plugins import build_plugin_host
from typer.testing import CliRunner


def test_version_lists_mdi_and_every_plugin() -> None:
    result = CliRunner().invoke(build_app(), ["--version"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"mdi {mdi.__version__}"
    host = build_plugin_host()
    for record in host.plugins.values():
        [line] = [line for line in lines[1:] if line.split()[0] == record.name]
        assert line.split()[1:3] == [record.distribution, record.version]
    assert {"kraken", "parquet", "example"} <= {line.split()[0] for line in lines[1:]}


def _demo(tmp_path: Path, fmt: str, level: str = "INFO") -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"""
[connectors.kraken]
[pipeline.spot_mid]
interval = 1.0
venues = ["kraken"]
[sinks.parquet]
root = "{tmp_path / 'lake'}"
[http]
port = 0
[logging]
level = "{level}"
format = "{fmt}"
""")
    return subprocess.run([sys.executable, "-m", "mdi.cli", "demo", str(cfg), "--duration", "1.5"],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("level", ["INFO", "WARNING"])
def test_json_logs_are_json_on_every_line(tmp_path: Path, level: str) -> None:
    done = _demo(tmp_path, "json", level)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    docs = [json.loads(line) for line in lines]  # raises on the first line that is not JSON
    messages = [d["msg"] for d in docs]
    assert any(m.startswith("connector kraken") for m in messages), messages
    assert any(m.startswith("running;") for m in messages) and messages[-1] == "stopped cleanly"
    assert all({"ts", "level", "logger", "msg"} <= d.keys() for d in docs)
    health = [d for d in docs if d["msg"].startswith("health at")]
    assert health and health[0]["health_url"].startswith("http://127.0.0.1:")  # shown at any level


def test_text_logs_are_human_lines(tmp_path: Path) -> None:
    done = _demo(tmp_path, "text")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert "mdi: stopped cleanly" in lines
    assert any(line.startswith("mdi: connector kraken") for line in lines)
    for line in lines:
        with pytest.raises(ValueError):
            json.loads(line)
