"""``mdi plugins new``, as an author uses it: generate each kind into an empty folder, install it
for real (pip, editable) into a throwaway venv, and run the generated distribution's own tests.

The throwaway venv has no packages of its own: a ``.pth`` file adds this venv's site-packages
(md-ingest and its dependencies), and pip installs with ``--no-deps --no-build-isolation``, so
the test is offline and takes seconds, while the install path (pyproject, entry point, editable
finder) is exactly the author's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mdi.cli import build_app
from mdi.scaffold import KINDS


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def mdi(*args: str, cwd: Path | None = None) -> Result:
    """The ``mdi`` command line in-process (the same typer app ``mdi`` runs), from ``cwd``."""
    before = os.getcwd()
    try:
        os.chdir(cwd or before)
        out = CliRunner().invoke(build_app(), list(args))
    finally:
        os.chdir(before)
    return Result(out.exit_code, out.stdout, out.stderr)


def run(cmd: list[str], cwd: Path | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def throwaway_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    result = run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert result.returncode == 0, result.stderr
    python = venv / "bin" / "python"
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    (Path(purelib) / "mdi-parent-env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return python


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, throwaway_venv: Path) -> dict[str, Path]:
    """One distribution per kind, each generated into its own empty folder and pip-installed."""
    root = tmp_path_factory.mktemp("plugins")
    dirs: dict[str, Path] = {}
    for kind in KINDS:
        folder = root / f"{kind}-here"
        folder.mkdir()
        result = mdi("plugins", "new", f"kit_{kind}", "--kind", kind, "--dir", ".", cwd=folder)
        assert result.returncode == 0, result.stderr
        assert f"{kind} 'kit_{kind}'" in result.stdout
        dirs[kind] = folder
    install = [sys.executable, "-m", "pip", "--python", str(throwaway_venv), "install", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    for folder in dirs.values():
        install += ["-e", str(folder)]
    result = run(install, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return dirs


EXPECTED = {
    "connector": {"pyproject.toml", "README.md", "mdi_kit_connector/plugin.py", "mdi_kit_connector/config.py",
                  "mdi_kit_connector/connector.py", "mdi_kit_connector/wire.py", "mdi_kit_connector/sim.py",
                  "tests/conftest.py", "tests/frames/session.jsonl"},
    "pipeline": {"pyproject.toml", "README.md", "mdi_kit_pipeline/plugin.py", "mdi_kit_pipeline/config.py", "mdi_kit_pipeline/pipeline.py"},
    "sink": {"pyproject.toml", "README.md", "mdi_kit_sink/plugin.py", "mdi_kit_sink/config.py", "mdi_kit_sink/sink.py"},
}


@pytest.mark.parametrize("kind", KINDS)
def test_generated_distribution_passes_its_own_tests(kind: str, generated: dict[str, Path], throwaway_venv: Path) -> None:
    folder = generated[kind]
    files = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "egg-info" not in str(p)}
    assert EXPECTED[kind] <= files
    assert f'kit_{kind} = "mdi_kit_{kind}.plugin"' in (folder / "pyproject.toml").read_text()
    result = run([str(throwaway_venv), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=folder)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout and "skipped" not in result.stdout


def test_installed_plugins_are_listed_with_their_distribution(generated: dict[str, Path], throwaway_venv: Path) -> None:
    result = run([str(throwaway_venv), "-m", "mdi.cli", "plugins", "list", "--json"])
    assert result.returncode == 0, result.stderr
    import json

    rows = {r["name"]: r for r in json.loads(result.stdout)["plugins"]}
    for kind in KINDS:
        row = rows[f"kit_{kind}"]
        assert (row["distribution"], row["status"], row["provides"]) == (f"mdi-kit-{kind}", "ok", f"{kind}:kit_{kind}")


def test_bad_name_kind_or_folder_is_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    bad = mdi("plugins", "new", "My-Venue", "--kind", "connector", "--dir", str(tmp_path / "a"))
    assert bad.returncode == 2 and "lower-case letters" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "a").exists()
    kind = mdi("plugins", "new", "okx", "--kind", "exporter", "--dir", str(tmp_path / "b"))
    assert kind.returncode == 2 and "connector, pipeline, sink" in kind.stderr
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    taken = mdi("plugins", "new", "okx", "--kind", "sink", "--dir", str(busy))
    assert taken.returncode == 2 and "not empty" in taken.stderr
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]


def test_wheel_ships_every_template(tmp_path: Path) -> None:
    """A regular (non-editable) install must be able to scaffold too: the templates are package data."""
    import zipfile

    from mdi.scaffold import TEMPLATES

    repo = Path(__file__).resolve().parents[2]
    result = run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(tmp_path), str(repo)], timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = tmp_path.glob("md_ingest-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    templates = {f"mdi/scaffold/{p.relative_to(TEMPLATES.parent).as_posix()}" for p in TEMPLATES.rglob("*.tmpl")}
    assert len(templates) >= 20 and templates <= shipped, sorted(templates - shipped)
