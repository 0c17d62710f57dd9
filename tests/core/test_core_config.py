"""Bad config files give errors that name the file, the key path and the fix."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mdi.config import ConfigError, load_config, parse_config
from mdi.graph import assemble
from mdi.plugins import build_plugin_host


def host():  # type: ignore[no-untyped-def]
    return build_plugin_host(load_entrypoints=False, extra=[("testplugins", sys.modules["core_testplugins"])])


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        assemble(parse_config(text, "cfg.toml"), host())
    return str(info.value)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: file not found"):
        load_config(tmp_path / "nope.toml")


def test_invalid_toml_says_where() -> None:
    with pytest.raises(ConfigError, match=r"cfg\.toml: not valid TOML: .*line 2"):
        parse_config("[router]\ningress_capacity = = 3\n", "cfg.toml")


def test_unknown_top_level_section_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match=r"unknown section \[sink\] \(did you mean \[sinks\]\?\)"):
        parse_config("[sink.mem]\n", "cfg.toml")


def test_core_section_type_error_has_the_key_path() -> None:
    with pytest.raises(ConfigError, match=r"cfg\.toml: Expected `int`, got `str` - at `router\.max_batch`"):
        parse_config('[router]\nmax_batch = "big"\n', "cfg.toml")


def test_plugin_section_type_error_has_section_and_path() -> None:
    msg = error_of('[connectors.src]\ntotal = "many"\n')
    assert msg == "cfg.toml: [connectors.src] Expected `int`, got `str` - at `connectors.src.total`"


def test_unknown_key_in_plugin_section_suggests_the_closest() -> None:
    msg = error_of("[connectors.src]\ntotl = 3\n")
    assert "[connectors.src] Object contains unknown field `totl`" in msg
    assert "(did you mean 'total'?)" in msg
    assert "valid keys: total, batch, pause, crash_after" in msg


def test_unknown_component_suggests_the_closest_known_name() -> None:
    msg = error_of("[connectors.scr]\n")
    assert "[connectors.scr] no installed plugin provides a connector named 'scr' (did you mean 'src'?)" in msg
    assert "available connectors: crashy, src, src2" in msg


def test_every_problem_is_reported_at_once() -> None:
    msg = error_of('[connectors.scr]\n[sinks.mem]\ndelay = "x"\n[pipeline.echo]\nevery = []\n')
    assert len(msg.splitlines()) == 3


def test_disabled_sections_are_skipped_and_enabled_must_be_bool() -> None:
    graph = assemble(parse_config("[connectors.src]\nenabled = false\n[sinks.mem]\n", "cfg.toml"), host())
    assert [n.name for n in graph.connectors] == []
    assert "Expected `bool`" in error_of('[sinks.mem]\nenabled = "yes"\n')


def test_transport_name_is_checked() -> None:
    from mdi.components import ConnectorSpec
    from mdi.connector import ConnectorConfigBase
    from mdi.hookspecs import hookimpl

    class Plug:
        @hookimpl
        def mdi_register_connectors(self, register):  # type: ignore[no-untyped-def]
            register(ConnectorSpec(name="ws", config_type=ConnectorConfigBase, factory=lambda c: c))

    h = build_plugin_host(load_entrypoints=False, extra=[("plug", Plug())])
    with pytest.raises(ConfigError, match=r"\[connectors\.ws\] Invalid transport 'fast'.*auto, httpx-ws, picows"):
        assemble(parse_config('[connectors.ws]\ntransport = "fast"\n', "cfg.toml"), h)
