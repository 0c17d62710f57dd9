"""``mdi demo``: the whole configured graph against built-in venue simulators, offline.

Each configured connector whose plugin ships a simulator gets one on 127.0.0.1 streaming
realistic frames; its ``url`` is pointed there. Connectors without a simulator are left out
(and said so). Sinks run as configured: without a Redis server the Redis sink reports degraded.
Tests can stall a simulator from outside through ``MDI_DEMO_CONTROL`` (:mod:`mdi.cli.demo_control`).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import typer
from anyio.abc import TaskGroup

from mdi.cli import demo_control
from mdi.cli.common import fail, say
from mdi.cli.run_cmd import configure_logging, exit_code, run_service
from mdi.components import ConnectorSpec
from mdi.config import Config, ConfigError, load_config
from mdi.graph import assemble
from mdi.plugins import PluginHost, build_plugin_host
from mdi.runtime import Service
from mdi.testing.sim import VenueSimulator


async def start_simulators(config: Config, host: PluginHost, stack: AsyncExitStack) -> list[VenueSimulator]:
    """Start a simulator per configured connector and point its url there."""
    sims: list[VenueSimulator] = []
    tables = config.components.get("connectors", {})
    for name in list(config.enabled("connectors")):
        registered = host.spec("connector", name)
        spec = registered.spec if registered is not None else None
        if not isinstance(spec, ConnectorSpec) or spec.simulator is None:
            say(f"connector {name!r} has no simulator; left out", prefix="mdi demo", connector=name)
            tables[name] = {**tables[name], "enabled": False}
            continue
        sim = spec.simulator()
        await stack.enter_async_context(sim)
        tables[name] = {**tables[name], "url": sim.sim_url()}
        sims.append(sim)
    return sims


async def demo_main(config: Config, rate: float, duration: float) -> Service:
    host = build_plugin_host()
    async with AsyncExitStack() as stack:
        sims = await start_simulators(config, host, stack)
        graph = assemble(config, host)

        async def feed(service: Service, tg: TaskGroup) -> None:
            for sim in sims:
                tg.start_soon(sim.stream_demo, rate)
            tg.start_soon(demo_control.watch, sims)  # MDI_DEMO_CONTROL (tests): stall a simulator
            if duration > 0:
                await anyio.sleep(duration)
                service.request_stop()

        return await run_service(graph, feed)


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        config: Path = typer.Argument(Path("config.toml"), help="Config whose graph to run."),
        rate: float = typer.Option(20.0, help="Frames per second each simulator sends."),
        duration: float = typer.Option(0.0, help="Stop after this many seconds (0: until Ctrl-C)."),
    ) -> None:
        """Run the configured graph against built-in venue simulators (no internet needed)."""
        try:
            cfg = load_config(config)
        except ConfigError as exc:
            raise fail(str(exc)) from None
        configure_logging(cfg.logging)

        def go() -> Service:
            try:
                return anyio.run(demo_main, cfg, rate, duration, backend="asyncio")
            except ConfigError as exc:
                raise fail(str(exc)) from None

        raise typer.Exit(exit_code(go))
