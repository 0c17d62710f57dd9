"""Routes and status-page panels that plugins add through ``mdi_register_routes``.

Modelled on datasette's ``register_routes``: the hook is called once when the ops app is built,
once per plugin so the core knows who registered what. A plugin registers :class:`RouteSpec`
objects; a spec with a ``panel`` title is also shown on ``GET /`` (the page fetches the route,
an HTML fragment, each time it refreshes). Two registrations of one path, or a path the core
serves, stop start-up with a message naming both sources; a plugin whose hook raises is logged
and its routes are left out (the ops port still serves everything else).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from litestar.handlers import HTTPRouteHandler

from mdi.stats import ServiceStats

if TYPE_CHECKING:
    from mdi.plugins import PluginHost

log = logging.getLogger("mdi.statuspage")

HOOK = "mdi_register_routes"
CORE_PATHS = frozenset({"/", "/metrics", "/health", "/status.json"})
CORE_PREFIXES = ("/static/",)


@dataclass(frozen=True)
class RouteSpec:
    """One litestar route handler (``@get("/my/path")``) for the ops port.

    ``panel``: when not empty, the status page shows a panel with this title whose body is the
    HTML that ``GET`` on the handler's first path returns (the handler must take no path
    parameters then). The handler runs on the service's event loop: it may read the
    :class:`ServiceStats` given to the hook, and must not block.
    """

    handler: HTTPRouteHandler
    panel: str = ""

    @property
    def path(self) -> str:
        return sorted(self.handler.paths)[0]


@dataclass(frozen=True)
class PluginRoute:
    spec: RouteSpec
    plugin: str


class RouteConflict(RuntimeError):
    """Two sources registered the same path; the message names both."""


def _reserved(path: str) -> bool:
    return path in CORE_PATHS or path.startswith(CORE_PREFIXES)


def _registrar(plugin: str, taken: dict[str, str], out: list[PluginRoute]) -> Callable[[RouteSpec], None]:
    def register(spec: RouteSpec) -> None:
        if not isinstance(spec, RouteSpec) or not isinstance(spec.handler, HTTPRouteHandler):
            raise TypeError(f"{HOOK} must register RouteSpec(handler=<litestar route handler>), got {spec!r}")
        for path in sorted(spec.handler.paths):
            if _reserved(path):
                raise RouteConflict(f"plugin {plugin!r} registers {path!r}, a path mdi itself serves; choose another path")
            if path in taken:
                raise RouteConflict(f"path {path!r} is registered by two plugins: {taken[path]} and {plugin}; uninstall or reconfigure one")
            taken[path] = plugin
        out.append(PluginRoute(spec, plugin))

    return register


def collect_routes(host: PluginHost, service: ServiceStats) -> list[PluginRoute]:
    """Call ``mdi_register_routes`` on each loaded plugin; raise :class:`RouteConflict` on a clash."""
    taken: dict[str, str] = {}
    out: list[PluginRoute] = []
    for record in list(host.plugins.values()):
        if record.status != "ok":
            continue
        plugin = host.pm.get_plugin(record.name)
        others = [p for p in host.pm.get_plugins() if p is not plugin]
        caller = host.pm.subset_hook_caller(HOOK, remove_plugins=others)
        mine: list[PluginRoute] = []
        try:
            caller(register=_registrar(record.name, taken, mine), service=service)
        except RouteConflict:
            raise
        except Exception:  # noqa: BLE001 - a broken panel must not take the ops port down
            log.exception("plugin route registration failed; its routes are left out", extra={"plugin": record.name})
            for route in mine:
                for path in route.spec.handler.paths:
                    taken.pop(path, None)
            continue
        out.extend(mine)
    return out


__all__ = ["CORE_PATHS", "PluginRoute", "RouteConflict", "RouteSpec", "collect_routes"]
