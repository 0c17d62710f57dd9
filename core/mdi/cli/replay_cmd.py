"""``mdi replay CAPTURE_ROOT [CONFIG]``: recorded frames through the sessions into CONFIG's sinks."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Optional

import anyio
import typer

from mdi.cli.common import fail, load_graph, say
from mdi.cli.run_cmd import configure_logging

TIME_HELP = "RFC 3339 (2026-12-01T22:00:00Z) or integer ns since the epoch."


def parse_time(text: str | None, option: str) -> int | None:
    """``--from``/``--to`` values: ns since the epoch, or RFC 3339 text."""
    if text is None:
        return None
    from mdi.timeutil import parse_rfc3339_ns

    try:
        return int(text) if text.isdigit() else parse_rfc3339_ns(text)
    except ValueError:
        raise fail(f"{option} {text!r}: expected {TIME_HELP}") from None


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay(
        capture_root: Path = typer.Argument(..., help="A capture root ([capture] root) or one run-* directory in it."),
        config: Optional[Path] = typer.Argument(None, help="Config whose connectors and sinks to use (default: the run's own copy)."),
        from_: Optional[str] = typer.Option(None, "--from", help="Write only events with ts_recv >= TIME (earlier frames still build session state). " + TIME_HELP),
        to: Optional[str] = typer.Option(None, "--to", help="Write only events with ts_recv <= TIME; stop at the first frame after it. " + TIME_HELP),
        speed: Optional[float] = typer.Option(None, "--speed", help="Pace at X times the recorded speed (default 1)."),
        max_: bool = typer.Option(False, "--max", help="As fast as possible."),
    ) -> None:
        """Replay recorded frames through the connector sessions and pipelines into CONFIG's sinks."""
        from mdi.capture.format import runs
        from mdi.capture.replay import ReplayOptions

        if max_ and speed is not None:
            raise fail("--speed and --max exclude each other: give one")
        if speed is not None and speed <= 0:
            raise fail(f"--speed {speed}: must be > 0")
        options = ReplayOptions(parse_time(from_, "--from"), parse_time(to, "--to"), None if max_ else (speed or 1.0))
        if not capture_root.is_dir():
            raise fail(f"{capture_root}: no such capture directory (give [capture] root or a run-* directory)")
        run_dirs = runs(capture_root)
        if not run_dirs:
            raise fail(f"{capture_root}: no recorded run found (expected run-*/<connector>/*.mdicap.zst)")
        code = 0
        for run_dir in run_dirs:
            code = max(code, _replay_one(run_dir, config, options))
        raise typer.Exit(code)


def _replay_one(run_dir: Path, config: Path | None, options: object) -> int:
    from mdi.capture.replay import ReplayOptions, replay_run

    assert isinstance(options, ReplayOptions)
    path = config or run_dir / "config.toml"
    if not path.is_file():
        raise fail(f"{run_dir}: no config.toml kept with this run; give CONFIG")
    _, graph = load_graph(path)
    configure_logging(graph.config.logging)
    started = time.perf_counter()
    try:
        service = anyio.run(replay_run, graph, run_dir, options, backend="asyncio")
    except Exception as exc:  # noqa: BLE001 - one clear line, then exit 1
        say(f"replay of {run_dir} stopped on an error: {exc}", level=logging.ERROR, run=run_dir.name)
        return 1
    elapsed = time.perf_counter() - started
    routed = service.stats.router.routed
    frames = sum(v.frames for v in service.stats.venues.values())
    say(f"replayed {run_dir.name}: {frames} frames, {routed} events routed in {elapsed:.2f}s "
        f"({frames / elapsed if elapsed else 0:.0f} frames/s)", run=run_dir.name, frames=frames, events=routed,
        seconds=round(elapsed, 3))
    return 0
