"""``mdi config check FILE``: validate a config without running anything."""

from __future__ import annotations

from pathlib import Path

import typer

from mdi.cli.common import describe, load_graph

app = typer.Typer(help="Inspect and validate configuration files.", no_args_is_help=True)


@app.command("check")
def check(config: Path = typer.Argument(..., help="Path of the config.toml to validate.")) -> None:
    """Decode every section with its plugin's type; print the graph or every problem found."""
    _, graph = load_graph(config)
    for line in describe(graph):
        typer.echo(line)
    typer.echo(f"{config}: ok ({len(graph.nodes())} components)")
