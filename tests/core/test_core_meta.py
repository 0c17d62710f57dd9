"""Meta-tests: the plugin surface and its documentation stay in step."""

from __future__ import annotations

import inspect
from pathlib import Path

from mdi import hookspecs

DOCS = Path(__file__).resolve().parents[2] / "docs"
TESTS = Path(__file__).resolve().parents[1]


def hook_names() -> list[str]:
    return [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("mdi_")]


def signature_text(name: str) -> str:
    fn = getattr(hookspecs, name)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in inspect.signature(fn).parameters.values())
    return f"{name}({params}) -> {inspect.signature(fn).return_annotation}"


def test_every_hook_is_prefixed_and_documented_with_its_exact_signature() -> None:
    text = (DOCS / "plugins.md").read_text()
    names = hook_names()
    assert names, "no hooks found"
    for name in names:
        assert f"### `{signature_text(name)}`" in text, f"docs/plugins.md lacks a heading for {name}"
        assert getattr(hookspecs, name).__doc__, f"{name} has no docstring"


def test_every_hook_is_exercised_by_a_test() -> None:
    sources = "\n".join(p.read_text() for p in TESTS.rglob("*.py") if p.name != "test_core_meta.py")
    for name in hook_names():
        assert f"def {name}" in sources or f"hook.{name}" in sources, f"no test implements or calls {name}"


def test_the_route_hook_is_part_of_the_surface() -> None:
    """The status page's plugin hook (docs/plugins.md) takes ``register`` and ``service``, like
    datasette's ``register_routes`` takes the app; a rename would break every panel plugin."""
    assert "mdi_register_routes" in hook_names()
    assert list(inspect.signature(hookspecs.mdi_register_routes).parameters) == ["register", "service"]
