"""Meta-tests: docs/operations.md documents every metric, state, /health field and config key,
and describe_metrics() lists every family the collector actually emits."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

import msgspec
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ops_support import build_service, fixed_clock
from mdi.config import HttpConfig, LoggingConfig
from mdi.health import snapshot
from mdi.metrics import build_registry, describe_metrics
from mdi.stats import ComponentState, ServiceState, SinkState, VenueState

DOC = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()


def section(title: str) -> str:
    """The text under a Markdown heading, up to the next heading of any level."""
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ |\Z)", DOC, re.S | re.M)
    assert match, f"docs/operations.md has no section {title!r}"
    return match.group(1)


def table_rows(text: str) -> set[str]:
    """First-column code spans of the Markdown table rows in ``text``."""
    return set(re.findall(r"^\| `([^`]+)` \|", text, re.M))


def test_every_metric_is_documented_with_its_type() -> None:
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(mdi_[^`]+)` \| (\w+) \|", DOC, re.M)}
    for name, kind, help_text in describe_metrics():
        assert help_text
        assert rows.get(name) == kind, f"{name} ({kind}) is not in the metric tables of docs/operations.md"
    assert set(rows) == {name for name, _, _ in describe_metrics()}  # and nothing stale is documented


@pytest.mark.anyio
async def test_describe_metrics_covers_every_emitted_family() -> None:
    patterns = [re.compile("^" + re.escape(n).replace(re.escape("<key>"), "[a-zA-Z0-9_]+") + "$") for n, _, _ in describe_metrics()]
    text = generate_latest(build_registry(build_service(), clock=fixed_clock, process_metrics=False)).decode()
    emitted = {(f.name + "_total" if f.type == "counter" else f.name, f.type) for f in text_string_to_metric_families(text)}
    described = {(n, t) for n, t, _ in describe_metrics()}
    for name, kind in emitted:
        if (name, kind) in described:
            continue
        assert any(p.match(name) for p in patterns), f"{name} is emitted but not described"
    fixed = {(n, t) for n, t, _ in describe_metrics() if "<key>" not in n}
    assert fixed <= emitted  # every fixed family is emitted even with few samples


@pytest.mark.parametrize(
    ("title", "states"),
    [("Venue states", VenueState), ("Component states", ComponentState), ("Sink states", SinkState), ("Service states", ServiceState)],
)
def test_every_state_is_documented(title: str, states: Any) -> None:
    assert table_rows(section(title)) == set(get_args(states))


@pytest.mark.anyio
async def test_every_health_field_is_documented() -> None:
    doc = snapshot(build_service(), clock=fixed_clock)
    fields = section("Fields")
    for key in doc:
        assert f"`{key}`" in fields or f"`{key}.<name>." in fields, key
    for group in ("venues", "sinks", "pipelines"):
        for entry in doc[group].values():
            for key in entry:
                assert f"`{key}`" in fields or f"`{group}.<name>.{key}`" in fields, f"{group}.{key}"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


@pytest.mark.parametrize(("prefix", "config"), [("http", HttpConfig), ("logging", LoggingConfig)])
def test_every_config_key_is_documented_with_its_default(prefix: str, config: type[msgspec.Struct]) -> None:
    table = section("Configuration")
    for field in msgspec.structs.fields(config):
        row = f"| `{prefix}.{field.encode_name}` | `{_toml(field.default)}` |"
        assert row in table, row
        assert re.search(rf"^{field.encode_name} = {re.escape(_toml(field.default))}(?=\s|$)", table, re.M), field.name
