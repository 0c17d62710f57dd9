"""The reference of the public plugin surface builds from the docstrings (pdoc), on every run,
and documents every public name; docs/plugins.md names every hook and fixture."""

from __future__ import annotations

import re
from pathlib import Path

import mdi.api
from mdi import apidocs, apisurface

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_reference_builds_and_documents_every_public_name(tmp_path: Path) -> None:
    pages = apidocs.build(tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in pages} >= {"mdi/api.html", "mdi/hookspecs.html", "mdi/testing/graph.html"}
    api_page = (tmp_path / "mdi" / "api.html").read_text()
    anchors = set(re.findall(r'id="([A-Za-z_][A-Za-z0-9_]*)"', api_page))
    undocumented = sorted(set(mdi.api.__all__) - anchors)
    assert undocumented == []
    assert "pending_acks" in api_page and "mdi_register_connectors" in (tmp_path / "mdi" / "hookspecs.html").read_text()


def test_walkthrough_names_every_hook_and_fixture() -> None:
    text = (DOCS / "plugins.md").read_text()
    names = [key.split(" ", 1)[-1].rsplit(".", 1)[-1] for key in apisurface.surface() if key.startswith(("fixture ", "mdi.hookspecs."))]
    missing = [n for n in names if f"`{n}" not in text]
    assert missing == []
