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


def stale_snapshot(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A snapshot missing one name, its changelog, and a copy of api.py to bump."""
    snapshot, changelog, api_module = tmp_path / "api-surface.json", tmp_path / "api-changelog.md", tmp_path / "api.py"
    changelog.write_text(f"# changes\n\n## {mdi.api.API_VERSION}\n\nfirst\n")
    api_module.write_text(apisurface.API_MODULE.read_text())
    stale = dict(apisurface.surface())
    stale.pop("mdi.api.RecentIds")
    snapshot.write_text(json.dumps({"api_version": mdi.api.API_VERSION, "surface": stale}))
    return snapshot, changelog, api_module


def test_refresh_refuses_a_changed_surface_without_a_note(tmp_path: Path) -> None:
    snapshot, changelog, api_module = stale_snapshot(tmp_path)
    before = snapshot.read_text()
    with pytest.raises(SystemExit, match=r"API_VERSION is still .*--note.*\n\+ mdi.api.RecentIds"):
        apisurface.write_snapshot(snapshot, changelog, api_module=api_module)
    assert snapshot.read_text() == before


@pytest.mark.parametrize(("major", "expected"), [(False, "minor"), (True, "major")])
def test_refresh_with_a_note_bumps_the_version_and_writes_the_changelog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, major: bool, expected: str
) -> None:
    monkeypatch.setattr(mdi.api, "API_VERSION", "1.4")
    snapshot, changelog, api_module = stale_snapshot(tmp_path)
    new = "2.0" if major else "1.5"
    api_module.write_text(api_module.read_text().replace(f'API_VERSION = "{apisurface.load_snapshot()["api_version"]}"', 'API_VERSION = "1.4"'))
    message = apisurface.write_snapshot(snapshot, changelog, note=f"RecentIds is public ({expected}).", major=major, api_module=api_module)
    assert f"API {new}" in message
    assert f'\nAPI_VERSION = "{new}"\n' in api_module.read_text()
    assert changelog.read_text().endswith(f"\n## {new}\n\nRecentIds is public ({expected}).\n\n- `+ mdi.api.RecentIds`\n")
    assert json.loads(snapshot.read_text()) == {"api_version": new, "surface": apisurface.surface()}
    assert mdi.api.API_VERSION == new
