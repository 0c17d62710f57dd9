"""The ``mdi`` command line. One module per command group; plugins may add commands."""

from __future__ import annotations

import typer

from mdi.cli import config_cmd, demo_cmd, plugins_cmd, run_cmd
from mdi.plugins import PluginHost, build_plugin_host


def build_app(host: PluginHost | None = None) -> typer.Typer:
    """Build the CLI (a function, so tests get a fresh app); plugins may add commands."""
    app = typer.Typer(
        name="mdi",
        help="mdi: record real-time BTC market data to a Parquet lake and a Redis hot cache.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    run_cmd.register(app)
    demo_cmd.register(app)
    app.add_typer(plugins_cmd.app, name="plugins")
    app.add_typer(config_cmd.app, name="config")
    host = host or build_plugin_host()
    host.pm.hook.mdi_register_commands(cli=app)
    return app


def main() -> None:
    build_app()()
