"""Finding plugins and collecting what they register.

Entry points of the ``mdi`` group are loaded one at a time and every failure is kept (a broken
third-party plugin must not take the service down unless the config uses it). The plugin manager
is built by :func:`build_plugin_host`, never at import time, so tests get a fresh one.
Environment: ``MDI_LOAD_PLUGINS`` (comma list of entry-point names; empty means none) restricts
loading; ``MDI_TRACE_PLUGINS=1`` prints every hook call.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any, Callable, Iterable, Mapping, Sequence

import pluggy

from mdi import hookspecs
from mdi.components import ComponentSpec, ConnectorSpec, PipelineSpec, SinkSpec

GROUP = "mdi"
KIND_OF_SPEC: dict[type, str] = {ConnectorSpec: "connector", PipelineSpec: "pipeline", SinkSpec: "sink"}
HOOK_OF_KIND: dict[str, str] = {
    "connector": "mdi_register_connectors",
    "pipeline": "mdi_register_pipelines",
    "sink": "mdi_register_sinks",
}


@dataclass
class PluginRecord:
    """One plugin as ``mdi plugins list`` shows it (mdi's own table, not pluggy's internals)."""

    name: str
    module: str
    distribution: str
    version: str
    status: str = "ok"
    error: str = ""
    components: list[tuple[str, str]] = field(default_factory=list)  # (kind, name)

    @property
    def kinds(self) -> list[str]:
        return sorted({kind for kind, _ in self.components}) or ["-"]


@dataclass
class Registered:
    spec: ComponentSpec
    plugin: PluginRecord


@dataclass
class PluginHost:
    """The plugin manager plus mdi's records of plugins and registered components."""

    pm: pluggy.PluginManager
    plugins: dict[str, PluginRecord] = field(default_factory=dict)
    components: dict[str, dict[str, Registered]] = field(
        default_factory=lambda: {"connector": {}, "pipeline": {}, "sink": {}}
    )
    conflicts: list[str] = field(default_factory=list)

    def failed(self) -> list[PluginRecord]:
        return [p for p in self.plugins.values() if p.status != "ok"]

    def spec(self, kind: str, name: str) -> Registered | None:
        return self.components[kind].get(name)


def _allowed_names() -> set[str] | None:
    raw = os.environ.get("MDI_LOAD_PLUGINS")
    if raw is None:
        return None
    return {n.strip() for n in raw.split(",") if n.strip()}


def _trace(pm: pluggy.PluginManager) -> None:
    def before(hook_name: str, hook_impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]) -> None:
        names = ", ".join(impl.plugin_name for impl in hook_impls)
        print(f"mdi: calling {hook_name} on [{names}]", file=sys.stderr)

    def after(
        outcome: pluggy.Result[Any], hook_name: str, hook_impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]
    ) -> None:
        print(f"mdi: {hook_name} done", file=sys.stderr)

    pm.add_hookcall_monitoring(before, after)


def _record_for(ep: EntryPoint) -> PluginRecord:
    dist = ep.dist
    return PluginRecord(
        name=ep.name,
        module=ep.value,
        distribution=dist.metadata["Name"] if dist is not None else "?",
        version=dist.version if dist is not None else "?",
    )


def build_plugin_host(
    *,
    load_entrypoints: bool = True,
    extra: Iterable[tuple[str, ModuleType | object]] = (),
) -> PluginHost:
    """Make a plugin manager, load entry points one by one, then collect registrations.

    ``extra`` registers in-process plugins (name, module or object): for tests and embedding.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if os.environ.get("MDI_TRACE_PLUGINS"):
        _trace(pm)
    host = PluginHost(pm=pm)
    if load_entrypoints:
        allowed = _allowed_names()
        for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
            if allowed is not None and ep.name not in allowed:
                continue
            _load_one(host, ep)
    for name, plugin in extra:
        record = PluginRecord(name=name, module=getattr(plugin, "__name__", repr(plugin)), distribution="(in-process)", version="-")
        _register(host, record, plugin)
    _collect(host)
    return host


def _load_one(host: PluginHost, ep: EntryPoint) -> None:
    record = _record_for(ep)
    if ep.name in host.plugins:
        record.status = f"failed: entry point name {ep.name!r} already used by {host.plugins[ep.name].distribution}"
        host.plugins[f"{ep.name}@{record.distribution}"] = record
        return
    try:
        plugin = ep.load()
    except Exception as exc:  # noqa: BLE001 - any import error of a third party is recorded
        record.status = f"failed: {type(exc).__name__}: {exc}"
        record.error = record.status[len("failed: "):]
        host.plugins[ep.name] = record
        return
    _register(host, record, plugin)


def _register(host: PluginHost, record: PluginRecord, plugin: object) -> None:
    try:
        host.pm.register(plugin, name=record.name)
    except Exception as exc:  # noqa: BLE001 - pluggy validation errors (bad hook signatures)
        record.status = f"failed: {type(exc).__name__}: {exc}"
        record.error = record.status[len("failed: "):]
    host.plugins[record.name] = record


def _collect(host: PluginHost) -> None:
    """Call each registration hook once per plugin, so the core knows who registered what."""
    for record in list(host.plugins.values()):
        if record.status != "ok":
            continue
        plugin = host.pm.get_plugin(record.name)
        others = [p for p in host.pm.get_plugins() if p is not plugin]
        for kind, hook in HOOK_OF_KIND.items():
            caller = host.pm.subset_hook_caller(hook, remove_plugins=others)
            try:
                caller(register=_registrar(host, record, kind))
            except Exception as exc:  # noqa: BLE001 - a plugin whose hook raises is marked failed
                record.status = f"failed: {hook} raised {type(exc).__name__}: {exc}"
                record.error = record.status[len("failed: "):]


def _registrar(host: PluginHost, record: PluginRecord, kind: str) -> Callable[[Any], None]:
    expected = {v: k for k, v in KIND_OF_SPEC.items()}[kind]

    def register(spec: ComponentSpec) -> None:
        if not isinstance(spec, expected):
            raise TypeError(f"{HOOK_OF_KIND[kind]} must register {expected.__name__}, got {type(spec).__name__}")
        existing = host.components[kind].get(spec.name)
        if existing is not None:
            host.conflicts.append(
                f"{kind} {spec.name!r} is registered by two plugins: "
                f"{existing.plugin.name} (distribution {existing.plugin.distribution} {existing.plugin.version}) and "
                f"{record.name} (distribution {record.distribution} {record.version}); uninstall one of them"
            )
            record.components.append((kind, spec.name))
            return
        host.components[kind][spec.name] = Registered(spec=spec, plugin=record)
        record.components.append((kind, spec.name))

    return register
