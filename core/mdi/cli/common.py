"""Helpers shared by CLI commands: loading config and plugins with user-facing errors."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from mdi.config import Config, ConfigError, load_config
from mdi.graph import Graph, assemble
from mdi.plugins import build_plugin_host

EXIT_CONFIG = 2


def fail(message: str, code: int = EXIT_CONFIG) -> typer.Exit:
    print(f"mdi: error: {message}", file=sys.stderr)
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
