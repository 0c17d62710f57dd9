"""The stated public API cannot change without a version bump and a changelog note."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mdi.api
from mdi import apisurface

REFRESH = "python -m mdi.apisurface --write"


def test_live_surface_matches_the_committed_snapshot() -> None:
    snapshot = apisurface.load_snapshot()
    changes = apisurface.diff(snapshot["surface"], apisurface.surface())
    assert not changes, (
        "the public plugin API changed:\n" + "\n".join(changes) + "\nIf intended: bump API_VERSION in core/mdi/api.py, "
        f"add an entry to docs/api-changelog.md, then run `{REFRESH}` (docs/plugins.md, 'The public API')."
    )


def test_snapshot_version_is_the_code_version_and_has_a_changelog_entry() -> None:
    assert apisurface.load_snapshot()["api_version"] == mdi.api.API_VERSION
    assert f"\n## {mdi.api.API_VERSION}\n" in apisurface.CHANGELOG.read_text()


def test_every_public_name_is_importable_and_listed_once() -> None:
    assert len(set(mdi.api.__all__)) == len(mdi.api.__all__)
    missing = [n for n in mdi.api.__all__ if not hasattr(mdi.api, n)]
    assert missing == []
    assert {"mdi.hookspecs.mdi_register_connectors", "fixture mdi_run_graph", "mdi.api.VenueSession"} <= set(apisurface.surface())


def test_a_signature_change_shows_in_the_surface(monkeypatch: pytest.MonkeyPatch) -> None:
    before = apisurface.surface()

    def seen(self: object, key: object, *, extra: int = 0) -> bool:  # a changed signature
        return False

    monkeypatch.setattr(mdi.api.RecentIds, "seen", seen)
    assert apisurface.diff(before, apisurface.surface()) == ["~ mdi.api.RecentIds"]


def test_refresh_refuses_a_changed_surface_without_a_new_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = tmp_path / "api-surface.json"
    changelog = tmp_path / "api-changelog.md"
    changelog.write_text(f"# changes\n\n## {mdi.api.API_VERSION}\n\nfirst\n")
    live = apisurface.surface()
    stale = dict(live)
    stale.pop("mdi.api.RecentIds")
    snapshot.write_text(json.dumps({"api_version": mdi.api.API_VERSION, "surface": stale}))
    with pytest.raises(SystemExit, match=r"API_VERSION is still .*\n\+ mdi.api.RecentIds"):
        apisurface.write_snapshot(snapshot, changelog)
    monkeypatch.setattr(mdi.api, "API_VERSION", "1.99")
    with pytest.raises(SystemExit, match="no '## 1.99' entry"):
        apisurface.write_snapshot(snapshot, changelog)
    changelog.write_text(changelog.read_text() + "\n## 1.99\n\nRecentIds is public.\n")
    assert "API 1.99" in apisurface.write_snapshot(snapshot, changelog)
    assert json.loads(snapshot.read_text()) == {"api_version": "1.99", "surface": live}
