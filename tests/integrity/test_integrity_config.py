"""Config refuses what cannot run (issue #11, point 5): in ``mdi config check`` and before
``mdi run`` starts anything, exit 2, one line naming the key, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mdi.cli import build_app

# (config text, the key the message must name, a phrase of the reason)
BAD = [
    ("[router]\ningress_capacity = 0", "router.ingress_capacity", ">= 1"),
    ("[router]\ningress_capacity = -5", "router.ingress_capacity", ">= 1"),
    ("[router]\nsink_capacity = -1", "router.sink_capacity", ">= 1"),
    ("[router]\nmax_batch = 0", "router.max_batch", ">= 1"),
    ("[http]\nport = 70000", "http.port", "<= 65535"),
    ("[supervisor]\nmax_restarts = -1", "supervisor.max_restarts", ">= 0"),
    ('[logging]\nlevel = "LOUD"', "logging.level", "'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'"),
    ('[connectors.kraken]\nurl = ""', "connectors.kraken.url", "ws:// or wss://"),
    ('[connectors.coinbase]\nurl = "https://advanced-trade-ws.coinbase.com"', "connectors.coinbase.url", "ws:// or wss://"),
    ("[connectors.binance]\nstale_after = 0", "connectors.binance.stale_after", "> 0"),
    ('[sinks.redis]\nurl = ""', "sinks.redis.url", "redis://"),
    ("[sinks.parquet]\nbuffer_rows = 0", "sinks.parquet.buffer_rows", ">= 1"),
]


def check(tmp_path: Path, text: str, command: str = "config") -> tuple[int, str]:
    path = tmp_path / "config.toml"
    path.write_text(text + "\n")
    args = ["config", "check", str(path)] if command == "config" else ["run", str(path)]
    result = CliRunner().invoke(build_app(), args)
    return result.exit_code, result.output


@pytest.mark.parametrize(("text", "key", "reason"), BAD)
@pytest.mark.parametrize("command", ["config", "run"])
def test_each_bad_value_is_refused_with_its_key(tmp_path: Path, text: str, key: str, reason: str, command: str) -> None:
    code, output = check(tmp_path, text, command)
    assert code == 2, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output  # one line, no traceback
    assert f"`{key}`" in lines[0] and reason in lines[0], lines[0]
    assert "Traceback" not in output


def test_an_unwritable_lake_root_names_the_key_and_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    root = blocker / "lake"
    code, output = check(tmp_path, f'[sinks.parquet]\nroot = "{root}"')
    assert code == 2
    (line,) = [line for line in output.splitlines() if line.strip()]
    assert "`sinks.parquet.root`" in line and str(root) in line and "is not a directory" in line


def test_mdi_run_refuses_before_starting_anything_in_a_real_process(tmp_path: Path) -> None:
    """The process exits 2 at once: no lake directory was created, no port opened."""
    path = tmp_path / "config.toml"
    path.write_text(f'[router]\nsink_capacity = -1\n[sinks.parquet]\nroot = "{tmp_path / "lake"}"\n')
    result = subprocess.run([sys.executable, "-m", "mdi.cli", "run", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "`router.sink_capacity`" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "lake").exists()


def test_good_values_at_the_bounds_still_pass(tmp_path: Path) -> None:
    text = (
        "[router]\ningress_capacity = 1\nsink_capacity = 1\nderived_capacity = 1\npipeline_capacity = 1\nmax_batch = 1\n"
        "[supervisor]\nmax_restarts = 0\n[http]\nport = 65535\n"
        f'[sinks.parquet]\nroot = "{tmp_path / "new" / "lake"}"\n'
    )
    code, output = check(tmp_path, text)
    assert code == 0, output
    assert "ok (" in output
