"""``mdi run CONFIG`` without what it does not use (docs: bench/idle.py measures the memory).

- exactly ``mdi run CONFIG`` skips building typer's command line (:func:`mdi.cli.main`), and
  exits with the same codes and lines as the typer path (``mdi run -- CONFIG`` takes that one);
- the ops app leaves out litestar's pydantic and attrs plugins unless a plugin registered
  routes (whose handlers may use them), so pydantic is not imported for the core's routes;
- building the command line (every command, ``mdi lake`` too) does not import pyarrow.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from litestar import Litestar, get

from mdi.cli import fast_run_path
from mdi.http import OpsLitestar, make_app
from mdi.stats import ServiceStats
from mdi.statuspage.document import StatusSources
from mdi.statuspage.plugin_routes import PluginRoute, RouteSpec


@pytest.mark.parametrize(
    ("argv", "path"),
    [
        (["run", "config.toml"], Path("config.toml")),
        (["run", "/etc/mdi/a b.toml"], Path("/etc/mdi/a b.toml")),
        (["run"], None),
        (["run", "--help"], None),
        (["run", "--", "config.toml"], None),
        (["run", "config.toml", "--x"], None),
        (["run", ""], None),
        (["demo", "config.toml"], None),
        (["--version"], None),
        ([], None),
    ],
)
def test_only_exactly_run_config_takes_the_short_path(argv: list[str], path: Path | None) -> None:
    assert fast_run_path(argv) == path


def _mdi(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mdi.cli", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize(
    "body",
    [
        None,  # no such file
        "[connectors.nosuchvenue]\n",  # an unknown component
        "[connectors.kraken]\nsymbols = 3\n",  # a wrong type
        "this is not toml = = \n",
    ],
)
def test_the_short_path_fails_exactly_as_the_typer_path(tmp_path: Path, body: str | None) -> None:
    cfg = tmp_path / "config.toml"
    if body is not None:
        cfg.write_text(body)
    short = _mdi("run", str(cfg), cwd=tmp_path)
    typer_path = _mdi("run", "--", str(cfg), cwd=tmp_path)
    assert short.returncode == typer_path.returncode == 2
    assert short.stderr == typer_path.stderr and "error" in short.stderr
    assert short.stdout == typer_path.stdout


def test_the_ops_app_without_plugin_routes_has_no_pydantic_plugin() -> None:
    app = make_app(ServiceStats())
    assert type(app) is OpsLitestar
    names = {type(p).__name__ for p in app.plugins}
    assert "MsgspecDIPlugin" in names and not {n for n in names if n.startswith(("Pydantic", "Attrs"))}


def test_plugin_routes_get_litestars_default_plugins() -> None:
    @get("/plugin/x")
    async def handler() -> str:
        return "x"

    app = make_app(ServiceStats(), sources=StatusSources(plugin_routes=[PluginRoute(RouteSpec(handler), "p")]))
    assert type(app) is Litestar
    names = {type(p).__name__ for p in app.plugins}
    assert any(n.startswith("Pydantic") for n in names), names


def _imports(code: str, **env: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **env}, check=True)
    return set(done.stdout.split())


def test_the_core_ops_app_imports_no_pydantic() -> None:
    loaded = _imports("from mdi.http import make_app; from mdi.stats import ServiceStats; make_app(ServiceStats())")
    assert "litestar" in loaded and "pydantic" not in loaded


def test_building_the_command_line_imports_no_pyarrow() -> None:
    # parquet's sink needs pyarrow when loaded: leave that plugin out; lake's commands must not.
    loaded = _imports("from mdi.cli import build_app; build_app()", MDI_LOAD_PLUGINS="lake,kraken,coinbase,redis")
    assert "mdi_lake.cli" in loaded and "pyarrow" not in loaded
