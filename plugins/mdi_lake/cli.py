"""``mdi lake ...``: the command group (one function per command; the work is in the modules)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import msgspec
import typer

from mdi_lake.catalog import scan
from mdi_lake.lakefs import Lake, LakeError, open_lake

app = typer.Typer(help="Inspect and maintain a Parquet lake (local path or s3:// URI).", no_args_is_help=True)
ROOT = typer.Argument(..., help="The lake root: the parquet sink's `root` (a path or s3://bucket/prefix).")


def _fail(message: str, code: int = 2) -> typer.Exit:
    print(f"mdi lake: error: {message}", file=sys.stderr)
    return typer.Exit(code)


def _open(root: str) -> Lake:
    try:
        return open_lake(root)
    except LakeError as exc:
        raise _fail(str(exc)) from None


def _emit_json(value: object) -> None:
    typer.echo(msgspec.json.encode(value).decode())


@app.command("stats")
def stats_cmd(root: str = ROOT, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Per stream and venue: files, rows, bytes, first and last receive time."""
    from mdi_lake.stats import as_dicts, lake_stats, render

    lake = _open(root)
    rows, unreadable = lake_stats(lake, scan(lake))
    if as_json:
        _emit_json({"streams": as_dicts(rows), "unreadable": unreadable})
        return
    for line in render(rows):
        typer.echo(line)
    for rel in unreadable:
        typer.echo(f"unreadable: {rel} (see `mdi lake verify`)")


@app.command("verify")
def verify_cmd(
    root: str = ROOT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    max_silence: float = typer.Option(60.0, help="Seconds without a row of a stream from a venue that count as a hole."),
) -> None:
    """Check the whole lake; exit 1 listing every problem, 0 when clean."""
    from mdi_lake.verify import verify

    lake = _open(root)
    result = verify(lake, scan(lake), max_silence_s=max_silence)
    if as_json:
        _emit_json({"ok": not result.problems, "files": result.files, "rows": result.rows, "problems": result.problems})
    else:
        for problem in result.problems:
            typer.echo(f"{problem.kind}: {problem.message}")
        verdict = "clean" if not result.problems else f"{len(result.problems)} problem(s)"
        typer.echo(f"verified {result.files} files, {result.rows} rows: {verdict}")
    raise typer.Exit(1 if result.problems else 0)
