"""The ``mdi`` command line. One module per command group; plugins may add commands."""

from __future__ import annotations

import typer

from mdi.cli import config_cmd, demo_cmd, plugins_cmd, replay_cmd, run_cmd
from mdi.cli.version import version_lines
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
    plugins = host or build_plugin_host()

    def show_version(value: bool) -> None:
        if value:
            typer.echo("\n".join(version_lines(plugins.plugins.values())))
            raise typer.Exit()

    @app.callback()
    def options(
        version: bool = typer.Option(False, "--version", is_eager=True, callback=show_version,
                                     help="Print mdi's version and every plugin's, then exit."),
    ) -> None:
        """mdi: record real-time BTC market data to a Parquet lake and a Redis hot cache."""

    run_cmd.register(app)
    demo_cmd.register(app)
    replay_cmd.register(app)
    app.add_typer(plugins_cmd.app, name="plugins")
    app.add_typer(config_cmd.app, name="config")
    plugins.pm.hook.mdi_register_commands(cli=app)
    return app


def main() -> None:
    build_app()()
