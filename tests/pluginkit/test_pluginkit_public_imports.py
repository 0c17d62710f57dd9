"""The example plugin and the scaffold's templates use only the stated public API: plugin code
imports ``mdi.api``, tests may add ``mdi.testing`` (what docs/plugins.md promises authors)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mdi.scaffold import TEMPLATES

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "mdi-bitstamp"


def mdi_imports(source: str) -> set[str]:
    """Every ``mdi`` module a source imports (``mdi_bitstamp`` and the like are not ``mdi``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "mdi":
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "mdi"}
    return found


def sources() -> list[tuple[str, str, bool]]:
    """(name, text, is_test) for every Python file of the example and of the templates."""
    out = [(str(p.relative_to(REPO)), p.read_text(), "tests" in p.parts) for p in sorted(EXAMPLE.rglob("*.py"))]
    for p in sorted(TEMPLATES.rglob("*.py.tmpl")):
        text = p.read_text().replace("{{package}}", "pkg").replace("{{Class}}", "X").replace("{{name}}", "x")
        out.append((str(p.relative_to(REPO)), text.replace("{{description}}", "d"), "tests" in p.parts))
    return out


@pytest.mark.parametrize(("name", "text", "is_test"), sources(), ids=lambda v: v if isinstance(v, str) and "/" in v else "")
def test_imports_only_the_public_api(name: str, text: str, is_test: bool) -> None:
    allowed = {"mdi.api"} | ({"mdi.testing.graph", "mdi.testing.harness", "mdi.testing.sources", "mdi.testing.redis_server"} if is_test else set())
    assert mdi_imports(text) <= allowed, f"{name} imports internals: {sorted(mdi_imports(text) - allowed)}"


def test_the_check_sees_internal_imports() -> None:
    assert mdi_imports("from mdi.connector import VenueSession\nimport mdi.events\nfrom mdi_x import y\n") == {"mdi.connector", "mdi.events"}
