"""``mdi run CONFIG``: run the configured graph until SIGINT/SIGTERM."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Awaitable, Callable

import anyio
import typer
from anyio.abc import TaskGroup

from mdi.cli.common import describe, load_graph, say
from mdi.config import LoggingConfig
from mdi.graph import Graph
from mdi.runtime import Service

log = logging.getLogger("mdi.cli")

# Called once the service is up, inside its task group (``mdi demo`` starts simulators' feeds).
AfterStart = Callable[[Service, TaskGroup], Awaitable[None]]


def configure_logging(cfg: LoggingConfig) -> None:
    from mdi.logs import configure_logging as setup

    setup(level=cfg.level, fmt=cfg.format, rate_limit_interval=cfg.rate_limit_interval)


def announce(graph: Graph, service: Service) -> None:
    for line in describe(graph):
        say(line)
    if service.health_url:
        say(f"health at {service.health_url}/health, metrics at {service.health_url}/metrics", health_url=service.health_url)
    say("running; Ctrl-C stops in order (a second Ctrl-C forces exit)")


async def run_service(graph: Graph, after_start: AfterStart | None = None) -> Service:
    """Run ``graph`` with signal handling until it stops; extra tasks end with it."""
    service = Service(graph)
    async with anyio.create_task_group() as tg:

        async def run(*, task_status: anyio.abc.TaskStatus[Service]) -> None:
            await service.run(task_status=task_status, handle_signals=True)
            tg.cancel_scope.cancel()  # the service is done: end helpers such as demo feeds

        await tg.start(run)
        announce(graph, service)
        if after_start is not None:
            await after_start(service, tg)
    return service


def exit_code(run: Callable[[], Service]) -> int:
    """Run, and turn the outcome into the process exit code (0 clean, 1 error, 130 forced)."""
    try:
        service = run()
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - report a crash as one clear line plus the log
        log.exception("mdi stopped on an error")
        say(f"stopped on an error: {exc}", level=logging.ERROR)
        return 1
    if service.forced:
        say("forced exit", level=logging.WARNING)
        return 130
    say("stopped cleanly")
    return 0


def run_config(config: Path) -> int:
    """``mdi run CONFIG``: the exit code (a config error raises ``typer.Exit(2)``). Also called
    without typer by :func:`mdi.cli.main` (see there)."""
    _, graph = load_graph(config)
    configure_logging(graph.config.logging)
    return exit_code(lambda: anyio.run(run_service, graph, backend="asyncio"))


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(config: Path = typer.Argument(..., help="Path of the config.toml to run.")) -> None:
        """Run the configured connectors, pipelines and sinks until stopped."""
        raise typer.Exit(run_config(config))
