"""``/``, ``/status.json``, ``/static/...`` and plugin routes, served by a real in-process
service over real HTTP (litestar + uvicorn on a free loopback port)."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import anyio
import httpx
import pytest
from litestar import Response, get

from mdi.config import parse_config
from mdi.graph import assemble
from mdi.hookspecs import hookimpl
from mdi.plugins import build_plugin_host
from mdi.runtime import Service
from mdi.stats import ServiceStats
from mdi.statuspage.plugin_routes import RouteConflict, RouteSpec, collect_routes
from mdi.statuspage.routes import load_assets

pytestmark = pytest.mark.anyio


class PanelPlugin:
    """A plugin with one panel (HTML fragment) and one plain JSON route."""

    @hookimpl
    def mdi_register_routes(self, register: Any, service: ServiceStats) -> None:
        @get("/example/panel")
        async def panel() -> Response[str]:
            return Response(f"<p class='example'>service is {service.state}</p>", media_type="text/html")

        @get("/example/data")
        async def data() -> dict[str, int]:
            return {"venues": len(service.venues)}

        register(RouteSpec(handler=panel, panel="Example panel"))
        register(RouteSpec(handler=data))


class Squatter:
    """Takes a path mdi serves."""

    @hookimpl
    def mdi_register_routes(self, register: Any) -> None:
        @get("/health")
        async def mine() -> str:
            return "mine"

        register(RouteSpec(handler=mine))


class Broken:
    @hookimpl
    def mdi_register_routes(self, register: Any) -> None:
        @get("/broken/one")
        async def one() -> str:
            return "one"

        register(RouteSpec(handler=one))
        raise RuntimeError("panel plugin bug")


def running(*plugins: tuple[str, object]) -> Any:
    host = build_plugin_host(load_entrypoints=False, extra=list(plugins))
    graph = assemble(parse_config("[http]\nport = 0\n"), host)
    return Service(graph)


@asynccontextmanager
async def serve(service: Service) -> AsyncIterator[str]:
    async with anyio.create_task_group() as tg:
        await tg.start(service.run)
        assert service.health_url
        try:
            yield service.health_url
        finally:
            service.request_stop()


async def test_page_json_and_assets_are_served() -> None:
    async with serve(running()) as url, httpx.AsyncClient(base_url=url) as client:
        page = await client.get("/")
        doc = (await client.get("/status.json")).json()
        assets = {name: await client.get(f"/static/{name}") for name in ("status.js", "status.css")}
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/status.js">' in page.text
    for text in (page.text, *(r.text for r in assets.values())):  # offline: nothing fetched from elsewhere
        assert not re.findall(r"(?:https?:)?//(?!www\.w3\.org/2000/svg)[a-z0-9.-]+\.[a-z]", text)
    assert {n: r.headers["content-type"].split(";")[0] for n, r in assets.items()} == {"status.js": "text/javascript", "status.css": "text/css"}
    assert assets["status.js"].content == load_assets()["status.js"][0]
    assert doc["health"]["service_state"] == "running"
    assert (doc["spot"], doc["surfaces"], doc["panels"]) == ({}, [], [])


async def test_a_plugin_adds_a_panel_and_a_route() -> None:
    async with serve(running(("example", PanelPlugin()))) as url, httpx.AsyncClient(base_url=url) as client:
        doc = (await client.get("/status.json")).json()
        panel = await client.get("/example/panel")
        data = (await client.get("/example/data")).json()
    assert doc["panels"] == [{"title": "Example panel", "path": "/example/panel", "plugin": "example"}]
    assert panel.text == "<p class='example'>service is running</p>"
    assert data == {"venues": 0}


def test_a_path_mdi_serves_cannot_be_taken() -> None:
    host = build_plugin_host(load_entrypoints=False, extra=[("squatter", Squatter())])
    with pytest.raises(RouteConflict, match="plugin 'squatter' registers '/health', a path mdi itself serves"):
        collect_routes(host, ServiceStats())


def test_two_plugins_on_one_path_name_both() -> None:
    host = build_plugin_host(load_entrypoints=False, extra=[("first", PanelPlugin()), ("second", PanelPlugin())])
    with pytest.raises(RouteConflict, match="'/example/panel' is registered by two plugins: first and second"):
        collect_routes(host, ServiceStats())


def test_a_plugin_whose_hook_raises_is_left_out(caplog: pytest.LogCaptureFixture) -> None:
    host = build_plugin_host(load_entrypoints=False, extra=[("broken", Broken()), ("example", PanelPlugin())])
    routes = collect_routes(host, ServiceStats())
    assert sorted((r.plugin, r.spec.path) for r in routes) == [("example", "/example/data"), ("example", "/example/panel")]
    assert "plugin route registration failed" in caplog.text


def test_register_takes_route_specs_only() -> None:
    class Wrong:
        @hookimpl
        def mdi_register_routes(self, register: Any) -> None:
            register("/not/a/spec")

    host = build_plugin_host(load_entrypoints=False, extra=[("wrong", Wrong())])
    assert collect_routes(host, ServiceStats()) == []  # logged and left out, like any raising hook
