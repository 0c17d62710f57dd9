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
