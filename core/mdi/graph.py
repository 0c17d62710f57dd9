"""Assembling the configured graph: config sections -> plugin specs -> component instances.

All validation happens here, before anything runs, and all problems are reported together:
unknown component names (with the closest known one and any plugin that failed to load),
config values of the wrong type (with the full key path), duplicate registrations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mdi.components import ConnectorSpec, PipelineSpec, SinkSpec
from mdi.connector import check_connector_config
from mdi.config import SECTION_KINDS, Config, ConfigError, decode_section, suggest
from mdi.events import TYPE_OF_KIND
from mdi.plugins import PluginHost, PluginRecord
from mdi.transport import TRANSPORT_NAMES


@dataclass
class Node:
    """One configured component: its spec, decoded config, instance, and providing plugin."""

    kind: str
    name: str
    spec: Any
    config: Any
    component: Any
    plugin: PluginRecord


@dataclass
class Graph:
    config: Config
    host: PluginHost
    connectors: list[Node] = field(default_factory=list)
    pipelines: list[Node] = field(default_factory=list)
    sinks: list[Node] = field(default_factory=list)

    def nodes(self) -> list[Node]:
        return [*self.connectors, *self.pipelines, *self.sinks]


def assemble(config: Config, host: PluginHost) -> Graph:
    """Build every configured component; raise one :class:`ConfigError` listing all problems."""
    errors: list[str] = list(host.conflicts)
    graph = Graph(config=config, host=host)
    targets = {"connector": graph.connectors, "pipeline": graph.pipelines, "sink": graph.sinks}
    for section, kind in SECTION_KINDS.items():
        try:
            tables = config.enabled(section)
        except ConfigError as exc:
            errors.append(str(exc))
            continue
        for name, table in tables.items():
            node = _build(config, host, section, kind, name, table, errors)
            if node is not None:
                targets[kind].append(node)
    if errors:
        raise ConfigError("\n".join(errors))
    return graph


def _build(config: Config, host: PluginHost, section: str, kind: str, name: str, table: dict[str, Any], errors: list[str]) -> Node | None:
    registered = host.spec(kind, name)
    if registered is None:
        errors.append(_unknown(config, host, section, kind, name))
        return None
    spec = registered.spec
    try:
        cfg = decode_section(config, section, name, table, spec.config_type)
    except ConfigError as exc:
        errors.append(str(exc))
        return None
    problem = _check_spec(spec, cfg)
    if problem:
        full = problem.replace("- at `", f"- at `{section}.{name}.", 1)  # the whole TOML key path
        errors.append(f"{config.source}: [{section}.{name}] {full}")
        return None
    try:
        component = spec.factory(cfg)
    except Exception as exc:  # noqa: BLE001 - a factory rejecting its config is a config error
        errors.append(f"{config.source}: [{section}.{name}] {type(exc).__name__}: {exc}")
        return None
    return Node(kind=kind, name=name, spec=spec, config=cfg, component=component, plugin=registered.plugin)


def _check_spec(spec: Any, cfg: Any) -> str:
    if isinstance(spec, ConnectorSpec):
        transport = getattr(cfg, "transport", "auto")
        if transport not in TRANSPORT_NAMES:
            return f"Invalid transport {transport!r} - at `transport`; expected one of {', '.join(TRANSPORT_NAMES)}"
        problem = check_connector_config(cfg)
        if problem:
            return problem
    if isinstance(spec, PipelineSpec):
        unknown = sorted(set(spec.consumes) - set(TYPE_OF_KIND))
        if unknown:
            return f"plugin declares unknown event kinds {unknown}; known: {sorted(TYPE_OF_KIND)}"
    if isinstance(spec, SinkSpec) and spec.delivery not in ("durable", "best_effort"):
        return f"plugin declares delivery {spec.delivery!r}; expected 'durable' or 'best_effort'"
    return ""


def _unknown(config: Config, host: PluginHost, section: str, kind: str, name: str) -> str:
    known = sorted(host.components[kind])
    message = (
        f"{config.source}: [{section}.{name}] no installed plugin provides a {kind} named {name!r}"
        f"{suggest(name, known)}; available {kind}s: {', '.join(known) or '(none)'}"
    )
    failed = host.failed()
    same = [p for p in failed if p.name == name]
    if same:
        p = same[0]
        return (
            f"{config.source}: [{section}.{name}] the plugin {name!r} from distribution "
            f"{p.distribution} {p.version} failed to load: {p.error or p.status}"
        )
    if failed:
        listing = "; ".join(f"{p.name} ({p.distribution} {p.version}): {p.error or p.status}" for p in failed)
        message += f". Plugins that failed to load and might provide it: {listing}"
    return message
