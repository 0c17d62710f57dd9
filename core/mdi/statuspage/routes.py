"""The status page's routes: ``GET /``, ``GET /status.json`` and ``GET /static/<asset>``.

The page is plain HTML, CSS and JavaScript shipped as package data (no CDN, no build step); it
polls ``/status.json`` once a second and draws its charts as hand-written SVG. Assets are read
once when the app is built and served from memory under one literal path each (no file-system
path comes from the request).
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any, Callable

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler

from mdi.stats import ServiceStats
from mdi.statuspage.document import StatusSources, status_document

_MEDIA = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
_NO_STORE = {"Cache-Control": "no-store"}
STATIC_PREFIX = "/static/"


def load_assets() -> dict[str, tuple[bytes, str]]:
    """``name -> (bytes, media type)`` for every file in ``mdi/statuspage/static``."""
    out: dict[str, tuple[bytes, str]] = {}
    for item in files("mdi.statuspage").joinpath("static").iterdir():
        suffix = "." + item.name.rsplit(".", 1)[-1]
        if item.is_file() and suffix in _MEDIA:
            out[item.name] = (item.read_bytes(), _MEDIA[suffix])
    return out


def status_routes(service: ServiceStats, sources: StatusSources, clock: Callable[[], int]) -> list[HTTPRouteHandler]:
    """The core's page routes plus every plugin's handlers."""
    assets = load_assets()
    index_html = assets["index.html"][0]

    @get("/")
    async def index() -> Response[bytes]:
        return Response(index_html, media_type="text/html", headers=_NO_STORE)

    @get("/status.json")
    async def status() -> Response[dict[str, Any]]:
        return Response(status_document(service, sources, clock()), headers=_NO_STORE)

    # One literal path per asset (no path parameter): the request can only name a shipped file.
    @get([f"{STATIC_PREFIX}{name}" for name in sorted(assets)])
    async def static(request: Request[Any, Any, Any]) -> Response[bytes]:
        body, media_type = assets[request.url.path.removeprefix(STATIC_PREFIX)]
        return Response(body, media_type=media_type, headers=_NO_STORE)

    return [index, status, static, *(route.spec.handler for route in sources.plugin_routes)]


__all__ = ["load_assets", "status_routes"]
