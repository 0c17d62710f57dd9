"""Helpers shared by CLI commands: loading config and plugins with user-facing errors."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import typer

from mdi.config import Config, ConfigError, load_config
from mdi.graph import Graph, assemble
from mdi.logs import active_format, mdi_handler
from mdi.plugins import build_plugin_host

EXIT_CONFIG = 2


def say(message: str, *, level: int = logging.INFO, prefix: str = "mdi", **fields: Any) -> None:
    """A line for the person running mdi: one JSON log record once logging is set to ``json``, a
    plain ``mdi: ...`` line on stderr otherwise (text logs, or before the config is read).

    Like the plain line, it is always written, whatever ``[logging] level`` filters out: it is
    what the operator started the command to see (where the health endpoint is, how it ended)."""
    handler = mdi_handler()
    if handler is not None and active_format() == "json":
        logger = logging.getLogger("mdi.cli")
        handler.handle(logger.makeRecord(logger.name, level, "(mdi)", 0, message, (), None, extra=fields))
    else:
        print(f"{prefix}: {message}", file=sys.stderr)


def fail(message: str, code: int = EXIT_CONFIG) -> typer.Exit:
    say(f"error: {message}", level=logging.ERROR)
    return typer.Exit(code)


def load_graph(path: Path) -> tuple[Config, Graph]:
    """Config file -> assembled graph, or exit 2 with every problem listed."""
    try:
        config = load_config(path)
        graph = assemble(config, build_plugin_host())
    except ConfigError as exc:
        raise fail(str(exc)) from None
    return config, graph


def describe(graph: Graph) -> list[str]:
    """One line per component, as ``mdi run`` prints at start."""
    lines = []
    for node in graph.nodes():
        extra = ""
        if node.kind == "connector":
            extra = f" url={getattr(node.config, 'url', '')} transport={getattr(node.config, 'transport', 'auto')}"
        elif node.kind == "sink":
            extra = f" delivery={node.spec.delivery}"
        elif node.kind == "pipeline":
            extra = f" consumes={','.join(sorted(node.spec.consumes))}"
        lines.append(f"{node.kind:<9} {node.name:<12} from {node.plugin.distribution} {node.plugin.version} ({node.plugin.module}){extra}")
    return lines
