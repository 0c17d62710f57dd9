"""The ``mdi`` command line. One module per command group; plugins may add commands.

``mdi run CONFIG`` (exactly that: two arguments, no option) skips building the command line:
typer would build every command's parameters (its runtime coercion imports pydantic, ~7 MB of
a service that never parses another argument) and call every plugin's ``mdi_register_commands``
(which imports their command modules) just to dispatch to one function. It runs
:func:`mdi.cli.run_cmd.run_config` directly and exits as typer's standalone mode would:
``typer.Exit`` -> its code, Ctrl-C outside the service's own handling -> 130, end of input ->
``Aborted!`` and 1. Anything else (``mdi run --help``, other commands) goes through typer.
"""

from __future__ import annotations

import sys
from pathlib import Path

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


def fast_run_path(argv: list[str]) -> Path | None:
    """The config path when ``argv`` (without the program) is exactly ``run CONFIG``."""
    if len(argv) == 2 and argv[0] == "run" and argv[1] and not argv[1].startswith("-"):
        return Path(argv[1])
    return None


def main() -> None:
    config = fast_run_path(sys.argv[1:])
    if config is None:
        build_app()()
        return
    try:
        code = run_cmd.run_config(config)
    except typer.Exit as exc:  # typer.core's standalone handling of each, in its order
        code = exc.exit_code
    except KeyboardInterrupt:
        code = 130
    except EOFError:
        print(file=sys.stderr)
        print("Aborted!", file=sys.stderr)
        code = 1
    sys.exit(code)
