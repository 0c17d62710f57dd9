"""Plugin discovery through real entry points, failures kept, conflicts named."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mdi.config import ConfigError, parse_config
from mdi.graph import assemble
from mdi.plugins import build_plugin_host

FIRST_PARTY = {"kraken", "coinbase", "deribit", "binance", "spot_mid", "iv_surface", "parquet", "redis", "lake"}


def make_dist(root: Path, dist: str, version: str, entry: str, module: str, source: str) -> None:
    """A real installed distribution: ``*.dist-info`` with entry_points.txt, plus its module."""
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[mdi]\n{entry} = {module}\n")
    (root / f"{module}.py").write_text(textwrap.dedent(source))


GOOD = """
    import msgspec
    from mdi.components import ConnectorSpec
    from mdi.hookspecs import hookimpl

    class Cfg(msgspec.Struct, forbid_unknown_fields=True):
        pass

    @hookimpl
    def mdi_register_connectors(register):
        register(ConnectorSpec(name="{name}", config_type=Cfg, factory=lambda c: c))
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("MDI_LOAD_PLUGINS", "okx,broken,okx2")
    return tmp_path


def test_entry_points_are_discovered_with_distribution_and_version(site: Path) -> None:
    make_dist(site, "mdi-okx", "1.2.0", "okx", "mdi_okx_plugin", GOOD.format(name="okx"))
    host = build_plugin_host()
    record = host.plugins["okx"]
    assert (record.distribution, record.version, record.status) == ("mdi-okx", "1.2.0", "ok")
    assert record.components == [("connector", "okx")]
    assert host.spec("connector", "okx") is not None


def test_a_broken_plugin_is_recorded_not_fatal(site: Path) -> None:
    make_dist(site, "mdi-broken", "0.1", "broken", "mdi_broken_plugin", "import does_not_exist_anywhere\n")
    make_dist(site, "mdi-okx", "1.2.0", "okx", "mdi_okx_plugin", GOOD.format(name="okx"))
    host = build_plugin_host()
    assert host.plugins["broken"].status == "failed: ModuleNotFoundError: No module named 'does_not_exist_anywhere'"
    assert host.plugins["okx"].status == "ok"
    # Unused: the graph assembles. Used: the error names the distribution and the cause.
    assemble(parse_config("[connectors.okx]\n", "c.toml"), host)
    with pytest.raises(ConfigError) as info:
        assemble(parse_config("[connectors.broken]\n", "c.toml"), host)
    assert "the plugin 'broken' from distribution mdi-broken 0.1 failed to load: ModuleNotFoundError" in str(info.value)


def test_two_plugins_with_one_name_is_an_error_naming_both(site: Path) -> None:
    make_dist(site, "mdi-okx", "1.2.0", "okx", "mdi_okx_plugin", GOOD.format(name="okx"))
    make_dist(site, "mdi-okx-fork", "9.9", "okx2", "mdi_okx_fork_plugin", GOOD.format(name="okx"))
    host = build_plugin_host()
    with pytest.raises(ConfigError) as info:
        assemble(parse_config("[connectors.okx]\n", "c.toml"), host)
    message = str(info.value)
    assert "connector 'okx' is registered by two plugins" in message
    assert "mdi-okx 1.2.0" in message and "mdi-okx-fork 9.9" in message


def test_mdi_load_plugins_restricts_and_empty_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MDI_LOAD_PLUGINS", "")
    assert build_plugin_host().plugins == {}
    monkeypatch.setenv("MDI_LOAD_PLUGINS", "example")
    assert list(build_plugin_host().plugins) == ["example"]


def test_plugins_list_shows_first_party_and_the_installed_third_party_distribution() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mdi.cli", "plugins", "list", "--json"], capture_output=True, text=True, check=True
    ).stdout
    rows = {row["name"]: row for row in json.loads(out)["plugins"]}
    example = rows["example"]
    assert (example["distribution"], example["version"], example["status"]) == ("mdi-example", "0.3.1", "ok")
    assert example["kind"] == "connector,sink"
    assert FIRST_PARTY <= set(rows)
    for name in FIRST_PARTY:
        assert rows[name]["distribution"] == "md-ingest"
        assert rows[name]["status"] == "ok", rows[name]


def test_plugins_list_table_shows_a_failed_plugin_with_its_reason(site: Path) -> None:
    make_dist(site, "mdi-broken", "0.1", "broken", "mdi_broken_plugin", "raise RuntimeError('no licence key')\n")
    env = {"PYTHONPATH": str(site), "MDI_LOAD_PLUGINS": "broken,example", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "mdi.cli", "plugins", "list"], capture_output=True, text=True, check=True, env=env
    ).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "DISTRIBUTION", "VERSION", "MODULE", "STATUS"]
    broken = next(line for line in lines if line.startswith("broken"))
    assert "mdi-broken" in broken and "failed: RuntimeError: no licence key" in broken


def test_trace_plugins_prints_hook_calls(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MDI_TRACE_PLUGINS", "1")
    monkeypatch.setenv("MDI_LOAD_PLUGINS", "example")
    build_plugin_host()
    err = capsys.readouterr().err
    assert "mdi: calling mdi_register_connectors on [example]" in err


def test_a_plugin_can_add_a_cli_command() -> None:
    import typer
    from typer.testing import CliRunner

    from mdi.cli import build_app
    from mdi.hookspecs import hookimpl

    class Hello:
        @hookimpl
        def mdi_register_commands(self, cli: typer.Typer) -> None:
            @cli.command("hello")
            def hello(name: str = "world") -> None:
                typer.echo(f"hello {name}")

    app = build_app(build_plugin_host(load_entrypoints=False, extra=[("hello", Hello())]))
    result = CliRunner().invoke(app, ["hello", "--name", "mdi"])
    assert result.exit_code == 0 and result.output == "hello mdi\n"


def test_the_shipped_config_assembles_with_the_installed_plugins() -> None:
    from mdi.config import load_config

    root = Path(__file__).resolve().parents[2]
    graph = assemble(load_config(root / "config.toml"), build_plugin_host())
    assert sorted(n.name for n in graph.connectors) == ["binance", "coinbase", "deribit", "kraken"]
    assert sorted(n.name for n in graph.pipelines) == ["iv_surface", "spot_mid"]
    assert sorted(n.name for n in graph.sinks) == ["parquet", "redis"]
    assert graph.config.http.host == "127.0.0.1"
