"""`mdi replay` and `[capture]` refuse bad input with one clear line and exit 2 (no traceback)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from mdi.cli import build_app


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(build_app(), list(args))


def test_replay_refuses_bad_arguments(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    cases = [
        (["replay", str(tmp_path / "nope")], "no such capture directory"),
        (["replay", str(tmp_path / "empty")], "no recorded run found"),
        (["replay", str(tmp_path / "empty"), "--max", "--speed", "2"], "--speed and --max exclude each other"),
        (["replay", str(tmp_path / "empty"), "--speed", "0"], "must be > 0"),
        (["replay", str(tmp_path / "empty"), "--from", "yesterday"], "--from 'yesterday': expected RFC 3339"),
    ]
    for args, message in cases:
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


def test_a_bad_capture_key_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[capture]\nenabled = true\nrotate_byte = 5\n')
    result = invoke("config", "check", str(cfg))
    assert result.exit_code == 2
    assert "rotate_byte" in result.output and "capture" in result.output, result.output
