"""Adds ``mdi lake`` to the command line (entry point ``lake = "mdi_lake.plugin"``)."""

from __future__ import annotations

import typer

from mdi.hookspecs import hookimpl


@hookimpl
def mdi_register_commands(cli: typer.Typer) -> None:
    from mdi_lake.cli import app

    cli.add_typer(app, name="lake")
