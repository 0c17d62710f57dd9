"""``mdi demo``: the whole configured graph against built-in venue simulators, offline.

Each configured connector whose plugin ships a simulator gets one on 127.0.0.1 streaming
realistic frames; its ``url`` is pointed there. Connectors without a simulator are left out
(and said so). Without a Redis server the Redis sink reports degraded.

Simulated trades must never land in a user's real lake or cache, so by default every sink whose
config has a ``root`` (a lake directory) or a ``prefix`` (a key prefix) gets a demo one:
``<root>-demo`` and ``demo:<prefix>``, printed at start. ``--use-configured-sinks`` opts into
the configured ones. Tests can stall a simulator from outside through ``MDI_DEMO_CONTROL``
(:mod:`mdi.cli.demo_control`).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Optional

import anyio
import msgspec
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
        tables[name] = {**tables[name], **sim.sim_settings()}
        sims.append(sim)
    return sims


DEMO_SUFFIX = "-demo"
DEMO_PREFIX = "demo:"


def demo_value(key: str, value: str) -> str:
    """The demo's own lake root (``data`` -> ``data-demo``) or key prefix (``demo:md:v1``)."""
    if key == "root":
        if "://" in value:  # an object-store URL (s3://bucket/prefix): Path would fold its '//'
            return value.rstrip("/") + DEMO_SUFFIX
        path = Path(value)
        return str(path.with_name(path.name + DEMO_SUFFIX)) if path.name else value + DEMO_SUFFIX
    return value if value.startswith(DEMO_PREFIX) else DEMO_PREFIX + value


def isolate_sinks(config: Config, host: PluginHost) -> list[str]:
    """Point every sink's ``root`` and ``prefix``, and the journal's and capture's ``root``, at demo
    ones (a demo must never feed the live run's journal or capture); ``["sinks.x.root = ...", ...]``."""
    changed: list[str] = []
    tables = config.components.get("sinks", {})
    for name in list(config.enabled("sinks")):
        registered = host.spec("sink", name)
        if registered is None:
            continue  # assembly reports the unknown sink
        defaults: dict[str, Any] = {f.name: f.default for f in msgspec.structs.fields(registered.spec.config_type)}
        table = dict(tables[name])
        for key in ("root", "prefix"):
            value = table.get(key, defaults.get(key))
            if key in defaults and isinstance(value, str) and value:
                table[key] = demo_value(key, value)
                changed.append(f"sinks.{name}.{key} = {table[key]!r}")
        tables[name] = table
    for section in ("journal", "capture"):  # the durable log and the raw frames go with the lake
        core = getattr(config, section)
        if core.enabled and core.root:
            setattr(config, section, msgspec.structs.replace(core, root=demo_value("root", core.root)))
            changed.append(f"{section}.root = {getattr(config, section).root!r}")
    return changed


async def demo_main(config: Config, rate: float, duration: float, use_configured_sinks: bool = False) -> Service:
    host = build_plugin_host()
    if not use_configured_sinks:
        changed = isolate_sinks(config, host)
        say(
            f"isolated from the configured sinks: {', '.join(changed) or '(no sink has a root or prefix)'}"
            " (--use-configured-sinks writes to the configured ones)",
            prefix="mdi demo", isolated=changed,
        )
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


BUNDLED = Path(__file__).resolve().parents[1] / "capture" / "demo"


def replay_demo(config: Path, capture: str, use_configured_sinks: bool = False) -> int:
    """``mdi demo --capture``: the recorded frames, at their recorded pace, into the demo's sinks
    (isolated like the simulators' demo unless ``--use-configured-sinks``)."""
    from mdi.capture.format import runs
    from mdi.capture.replay import ReplayOptions, replay_run

    root = BUNDLED if capture == "bundled" else Path(capture)
    if not root.is_dir() or not runs(root):
        raise fail(f"--capture {capture}: no recorded run there (give a [capture] root, a run-* directory or 'bundled')")
    for run_dir in runs(root):
        try:
            cfg = load_config(config)
            host = build_plugin_host()
            changed = [] if use_configured_sinks else isolate_sinks(cfg, host)
            graph = assemble(cfg, host)
        except ConfigError as exc:
            raise fail(str(exc)) from None
        service = anyio.run(replay_run, graph, run_dir, ReplayOptions(speed=1.0), backend="asyncio")
        frames = sum(v.frames for v in service.stats.venues.values())
        where = "the configured sinks" if use_configured_sinks else f"the demo's sinks ({', '.join(changed) or 'no sink has a root or prefix'})"
        say(f"replayed {run_dir.name}: {frames} frames, {service.stats.router.routed} events into {where}",
            prefix="mdi demo", run=run_dir.name, frames=frames, events=service.stats.router.routed, isolated=changed)
    return 0


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        config: Path = typer.Argument(Path("config.toml"), help="Config whose graph to run."),
        rate: float = typer.Option(20.0, help="Frames per second each simulator sends."),
        duration: float = typer.Option(0.0, help="Stop after this many seconds (0: until Ctrl-C)."),
        use_configured_sinks: bool = typer.Option(
            False, "--use-configured-sinks",
            help="Write to the configured lake root and Redis prefix (default: demo ones, '<root>-demo' and 'demo:<prefix>').",
        ),
        capture: Optional[str] = typer.Option(
            None, "--capture", help="Replay this capture (or 'bundled': real Kraken and Binance frames) instead of simulators."
        ),
    ) -> None:
        """Run the configured graph against built-in venue simulators (no internet needed)."""
        try:
            cfg = load_config(config)
        except ConfigError as exc:
            raise fail(str(exc)) from None
        configure_logging(cfg.logging)
        if capture is not None:
            raise typer.Exit(replay_demo(config, capture, use_configured_sinks))

        def go() -> Service:
            try:
                return anyio.run(demo_main, cfg, rate, duration, use_configured_sinks, backend="asyncio")
            except ConfigError as exc:
                raise fail(str(exc)) from None

        raise typer.Exit(exit_code(go))
