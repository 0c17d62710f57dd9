"""``mdi lake ...``: the command group (one function per command; the work is in the modules).

Every ``mdi`` command line builds this group (``mdi run`` too), so this module imports nothing
that needs pyarrow: the lake modules are imported by the command that runs. An idle ``mdi run``
must not pay for pyarrow's ~30 MB of libraries because ``mdi lake`` exists (bench/idle.py).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import msgspec
import typer

if TYPE_CHECKING:
    from mdi_lake.catalog import Catalog
    from mdi_lake.lakefs import Lake

app = typer.Typer(help="Inspect and maintain a Parquet lake (local path or s3:// URI).", no_args_is_help=True)
ROOT = typer.Argument(..., help="The lake root: the parquet sink's `root` (a path or s3://bucket/prefix).")


def _fail(message: str, code: int = 2) -> typer.Exit:
    print(f"mdi lake: error: {message}", file=sys.stderr)
    return typer.Exit(code)


def _open(root: str) -> Lake:
    from mdi_lake.lakefs import LakeError, open_lake

    try:
        return open_lake(root)
    except LakeError as exc:
        raise _fail(str(exc)) from None


def scan(lake: Lake) -> Catalog:
    """:func:`mdi_lake.catalog.scan`, imported when a command runs (see the module docstring)."""
    from mdi_lake.catalog import scan as scan_lake

    return scan_lake(lake)


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


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``2h``, ``1d`` -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip()
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise _fail(f"--older-than {text!r} is not a duration: use e.g. 90s, 15m, 2h, 1d") from None


@app.command("compact")
def compact_cmd(
    root: str = ROOT,
    older_than: str = typer.Option("1h", help="Compact partitions whose hour ended at least this long ago (90s, 15m, 2h, 1d)."),
    include_open: bool = typer.Option(False, "--include-open", help="Also the current hour's partitions (when no recorder writes to the lake)."),
    target_rows: int = typer.Option(4_000_000, help="Rows per merged file at most."),
    row_group_rows: int = typer.Option(262_144, help="Rows per row group of a merged file."),
    mode: str = typer.Option("auto", help="auto, exchange (atomic directory swap, local disk) or replace (object storage)."),
    show_stats: bool = typer.Option(False, "--stats", help="Print rows/s and sizes."),
) -> None:
    """Merge the small files of closed partitions into few large ones; crash-safe and idempotent."""
    import time

    from mdi_lake.compact import Settings, compact

    if mode not in ("auto", "exchange", "replace"):
        raise _fail(f"--mode {mode!r}: use auto, exchange or replace")
    lake = _open(root)
    seconds = parse_duration(older_than)
    settings = Settings(older_than_s=seconds, target_rows=target_rows, row_group_rows=row_group_rows, mode=mode)
    log: list[str] = []
    now = time.time() + (2 * 3600 + seconds if include_open else 0)
    stats = compact(lake, settings, now_s=now, log=log)
    for line in log:
        typer.echo(line)
    if stats.recovered:
        typer.echo(f"recovered {stats.recovered} interrupted compaction(s)")
    typer.echo(f"compacted {stats.partitions} partition(s): {stats.files_in} files -> {stats.files_out}, {stats.rows} rows")
    if show_stats:
        typer.echo(f"{stats.rows_per_s:,.0f} rows/s in {stats.seconds:.2f} s; {stats.bytes_in} bytes -> {stats.bytes_out}")
    if stats.failed:
        raise typer.Exit(1)


@app.command("prune")
def prune_cmd(
    root: str = ROOT,
    before: str = typer.Option(..., help="Delete the hour partitions that ended before this (YYYY-MM-DD or ISO time, UTC)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would go; delete nothing."),
) -> None:
    """Retention: delete whole hour partitions older than --before."""
    import time

    from mdi_lake.prune import parse_moment, prune

    try:
        moment = parse_moment(before)
    except ValueError:
        raise _fail(f"--before {before!r} is not a date: use YYYY-MM-DD or 2024-05-27T12:00:00Z") from None
    lake = _open(root)
    result = prune(lake, scan(lake), moment, now_s=time.time(), dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for partition in result.partitions:
        typer.echo(f"{verb} {partition}")
    typer.echo(f"{verb} {len(result.partitions)} partition(s), {result.files} files, {result.bytes} bytes")


@app.command("query")
def query_cmd(
    root: str = ROOT,
    sql: str = typer.Argument(..., help="SQL over the views trade, bbo, ... (one per stream, with date and hour columns)."),
    fmt: str = typer.Option("table", "--format", help="table, csv, json (one object a line) or parquet."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write here instead of standard output (needed for parquet)."),
) -> None:
    """Run SQL with DuckDB over every stream of the lake."""
    from mdi_lake.lakefs import LakeError
    from mdi_lake.output import FORMATS, write
    from mdi_lake.query import run

    if fmt not in FORMATS:
        raise _fail(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "parquet" and out is None:
        raise _fail("--format parquet needs --out FILE")
    lake = _open(root)
    try:
        table = run(lake, sql)
    except LakeError as exc:
        raise _fail(str(exc), 1) from None
    write(table, fmt, str(out) if out else None)


@app.command("report")
def report_cmd(
    root: str = ROOT,
    out: Path = typer.Option(Path("report.html"), "--out", help="The HTML file to write."),
    start: Optional[str] = typer.Option(None, "--from", help="Only rows received from this time (ISO, UTC)."),
    end: Optional[str] = typer.Option(None, "--to", help="Only rows received before this time (ISO, UTC)."),
) -> None:
    """Write one self-contained HTML file with coverage, volume, spot mid and IV charts."""
    from mdi_lake.lakefs import LakeError
    from mdi_lake.lock import lake_lock
    from mdi_lake.prune import parse_moment
    from mdi_lake.report import build_report

    try:
        window = [parse_moment(t) if t else None for t in (start, end)]
    except ValueError:
        raise _fail("--from/--to: use YYYY-MM-DD or 2024-05-27T12:00:00Z") from None
    lake = _open(root)
    try:
        with lake_lock(lake, exclusive=False):
            html = build_report(lake, scan(lake), window[0], window[1])
    except LakeError as exc:
        raise _fail(str(exc), 1) from None
    out.write_text(html, encoding="utf-8")
    typer.echo(f"wrote {out} ({len(html) // 1024} KiB)")
