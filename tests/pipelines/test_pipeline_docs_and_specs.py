"""Keep the surface honest: registered specs, and docs/pipelines.md documenting every config key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import mdi_iv_surface.plugin
import mdi_spot_mid.plugin
import pytest
from mdi.components import PipelineSpec
from mdi.events import KIND_OF, TYPE_OF_KIND
from mdi_iv_surface.config import IVSurfaceConfig
from mdi_iv_surface.pipeline import IVSurfacePipeline
from mdi_spot_mid.config import SpotMidConfig
from mdi_spot_mid.pipeline import SpotMidPipeline

DOC = Path(__file__).resolve().parents[2] / "docs" / "pipelines.md"

CASES = [
    (mdi_spot_mid.plugin, "spot_mid", SpotMidConfig, SpotMidPipeline, {"bbo"}, {"spot_mid_1s"}),
    (
        mdi_iv_surface.plugin, "iv_surface", IVSurfaceConfig, IVSurfacePipeline,
        {"option_ticker", "vol_index"}, {"iv_surface_snapshot"},
    ),
]


def registered(module: Any) -> list[PipelineSpec]:
    specs: list[PipelineSpec] = []
    module.mdi_register_pipelines(register=specs.append)
    return specs


@pytest.mark.parametrize(("module", "name", "config_type", "factory", "consumes", "produces"), CASES)
def test_the_plugin_registers_its_pipeline_spec(
    module: Any, name: str, config_type: type, factory: type, consumes: set[str], produces: set[str]
) -> None:
    (spec,) = registered(module)
    assert (spec.name, spec.config_type, spec.factory) == (name, config_type, factory)
    assert (spec.consumes, spec.produces) == (frozenset(consumes), frozenset(produces))
    assert spec.consumes <= set(TYPE_OF_KIND) and spec.produces <= set(KIND_OF.values())
    assert isinstance(spec.factory(config_type()), factory)


def toml_example(section: str) -> dict[str, Any]:
    text = DOC.read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    matching = [b for b in blocks if b.startswith(f"[pipeline.{section}]")]
    assert len(matching) == 1, f"docs/pipelines.md needs one TOML example for [pipeline.{section}]"
    return dict(tomllib.loads(matching[0])["pipeline"][section])


@pytest.mark.parametrize(("section", "config_type"), [("spot_mid", SpotMidConfig), ("iv_surface", IVSurfaceConfig)])
def test_docs_list_every_key_and_the_example_shows_the_defaults(section: str, config_type: Any) -> None:
    text = DOC.read_text()
    fields = set(config_type.__struct_fields__)
    for key in fields:
        assert f"| `{key}` |" in text, f"docs/pipelines.md has no table row for [{section}] {key}"
    example = toml_example(section)
    assert set(example) == fields
    assert msgspec.convert(example, config_type) == config_type()


def test_unknown_keys_are_rejected_with_the_key_name() -> None:
    with pytest.raises(msgspec.ValidationError, match="max_divergence"):
        msgspec.convert({"max_divergence": 5}, SpotMidConfig)
    with pytest.raises(msgspec.ValidationError, match="intervall"):
        msgspec.convert({"intervall": 5}, IVSurfaceConfig)
