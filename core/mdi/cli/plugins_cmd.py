"""``mdi plugins list``: every plugin found, what it provides, and why any failed.
``mdi plugins new``: write a new plugin distribution from a template."""

from __future__ import annotations

from pathlib import Path

import msgspec
import typer

from mdi.plugins import PluginRecord, build_plugin_host

app = typer.Typer(help="Inspect installed plugins.", no_args_is_help=True)

COLUMNS = ("name", "kind", "distribution", "version", "module", "status")


def _row(p: PluginRecord) -> dict[str, str]:
    provides = ", ".join(f"{k}:{n}" for k, n in p.components)
    return {
        "name": p.name,
        "kind": ",".join(p.kinds),
        "distribution": p.distribution,
        "version": p.version,
        "module": p.module,
        "status": p.status,
        "provides": provides,
    }


@app.command("list")
def list_plugins(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List plugins from the `mdi` entry-point group (MDI_LOAD_PLUGINS restricts loading)."""
    host = build_plugin_host()
    rows = [_row(p) for p in sorted(host.plugins.values(), key=lambda p: p.name)]
    if as_json:
        typer.echo(msgspec.json.encode({"plugins": rows, "conflicts": host.conflicts}).decode())
        return
    widths = {c: max([len(c)] + [len(r[c]) for r in rows]) for c in COLUMNS}
    typer.echo("  ".join(c.upper().ljust(widths[c]) for c in COLUMNS))
    for r in rows:
        typer.echo("  ".join(r[c].ljust(widths[c]) for c in COLUMNS))
    for conflict in host.conflicts:
        typer.echo(f"conflict: {conflict}")


@app.command("new")
def new_plugin(
    name: str = typer.Argument(..., help="Plugin name: the config section and entry-point name (e.g. okx)."),
    kind: str = typer.Option(..., "--kind", help="connector, pipeline or sink."),
    directory: Path | None = typer.Option(None, "--dir", help="Folder to write (new or empty); default ./mdi-NAME."),
) -> None:
    """Write a separate plugin distribution whose tests pass with `pip install -e . && pytest`."""
    from mdi.cli.common import fail
    from mdi.scaffold import ScaffoldError, plan, write

    try:
        p = plan(name, kind, directory)
        files = write(p)
    except ScaffoldError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"wrote {p.target} ({len(files)} files): {p.kind} '{p.name}'")
    typer.echo(f"next: cd {p.target} && pip install -e '.[test]' && pytest")
