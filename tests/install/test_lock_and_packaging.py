"""The install a new user gets: the lock covers what pyproject asks for, every documented install
command uses it, and the built wheel carries ``py.typed`` so plugins type-check against mdi."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]


def _lock() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not pinned with =="
            pins[canonicalize_name(name)] = version
    return pins


def test_lock_pins_every_dependency_within_its_range() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    for group in project.get("optional-dependencies", {}).values():
        wanted += [Requirement(r) for r in group]
    pins = _lock()
    for req in wanted:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in constraints.txt: run .ci/lock"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req.name}=={pins[name]} outside {req.specifier}"


def test_documented_installs_use_the_lock() -> None:
    readme = (REPO / "README.md").read_text()
    installs = [line for line in readme.splitlines() if "pip install" in line and line.startswith("python3 -m venv")]
    assert len(installs) == 2, installs  # set-up and tests
    assert all("-c constraints.txt" in line for line in installs)
    ci = (REPO / ".ci" / "run").read_text()
    assert installs[1] in ci  # CI runs the README's test command verbatim


def test_wheel_ships_py_typed(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO)],
                   check=True, capture_output=True, timeout=120)
    [wheel] = tmp_path.glob("md_ingest-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "mdi/py.typed" in names
    assert "mdi/__init__.py" in names and "mdi_kraken/plugin.py" in names
