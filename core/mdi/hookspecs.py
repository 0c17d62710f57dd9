"""The hooks mdi calls on plugins. The whole public plugin surface is in this one module.

Every hook is prefixed ``mdi_``. Registration hooks are called exactly once while the graph is
assembled (never on the hot path); each receives a ``register`` callback and may call it any
number of times. The core records which plugin registered what and rejects duplicate names.
Hooks only ever gain arguments: an implementation may declare just the ones it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

if TYPE_CHECKING:
    import typer

    from mdi.components import ConnectorSpec, PipelineSpec, SinkSpec
    from mdi.stats import ServiceStats
    from mdi.statuspage.plugin_routes import RouteSpec

PROJECT = "mdi"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def mdi_register_connectors(register: Callable[[ConnectorSpec], None]) -> None:
    """Register venue connectors by calling ``register(ConnectorSpec(...))``.

    Called once per plugin manager, when the graph is assembled or plugins are listed. Results
    are ignored; all implementations run. The spec's ``name`` is the config section
    ``[connectors.<name>]``; the factory receives the decoded config Struct.
    """


@hookspec
def mdi_register_pipelines(register: Callable[[PipelineSpec], None]) -> None:
    """Register pipelines by calling ``register(PipelineSpec(...))``.

    Called once, like :func:`mdi_register_connectors`. A pipeline receives only the event kinds
    in ``PipelineSpec.consumes`` and emits derived events without blocking.
    """


@hookspec
def mdi_register_sinks(register: Callable[[SinkSpec], None]) -> None:
    """Register sinks by calling ``register(SinkSpec(...))``.

    Called once, like :func:`mdi_register_connectors`. ``delivery`` is ``durable`` (the router
    blocks rather than drop) or ``best_effort`` (the router drops and counts when full).
    """


@hookspec
def mdi_register_commands(cli: typer.Typer) -> None:
    """Add sub-commands to the ``mdi`` command line (``@cli.command()`` or ``cli.add_typer``).

    Called once when the CLI is built, before arguments are parsed. Results are ignored.
    """


@hookspec
def mdi_register_routes(register: Callable[[RouteSpec], None], service: ServiceStats) -> None:
    """Add HTTP routes to the ops port, and panels to the status page, by calling
    ``register(RouteSpec(handler=<litestar route handler>, panel="Title"))``.

    Called once per plugin when the ops app is built (``[http] enabled``), before it listens;
    results are ignored. ``service`` is the live :class:`~mdi.stats.ServiceStats` a handler may
    read (handlers run on the service's event loop and must not block). A spec with a ``panel``
    title is shown on ``GET /``: the page fetches the handler's path (an HTML fragment) whenever
    it refreshes. A path mdi serves itself or another plugin registered stops start-up.
    """
