"""``GET /metrics``, ``GET /health`` and the status page (``GET /``, :mod:`mdi.statuspage`), served by uvicorn inside the service's own event loop.

Embedding uvicorn needs three adjustments to its defaults:

- Signals: ``uvicorn.Server.serve()`` wraps itself in ``capture_signals()`` (uvicorn >= 0.29;
  ``install_signal_handlers()`` before), which replaces the process's SIGINT/SIGTERM handlers
  with ``signal.signal`` and re-raises the signal when it exits. The runtime owns those signals
  (ordered shutdown), so :class:`EmbeddedServer` turns both hooks into no-ops.
- Sockets: we bind the listening socket ourselves and pass it to ``serve(sockets=...)``. That
  gives the real port when asked for port 0, and a bind failure is an ``OSError`` raised to the
  caller instead of uvicorn's ``sys.exit(3)``.
- Logging: ``log_config=None`` keeps uvicorn from replacing our handlers (``dictConfig``); its
  loggers are set to WARNING and the access log is off, so a scrape every 15 s logs nothing.

Cancellation: uvicorn's ``serve()`` runs shielded in a child task and is stopped the way uvicorn
expects (``should_exit``), so the socket is closed and open connections are finished, within
``SHUTDOWN_TIMEOUT`` seconds, before the cancelled ``serve_http`` returns.

Requires the asyncio backend (uvicorn is asyncio-only), which is what the runtime uses.

Memory: litestar adds pydantic's and attrs' plugins to every app when those libraries are
installed, which imports pydantic (~7 MB resident, more than the rest of the app). The core's
routes take and return no pydantic or attrs models, so when no plugin registered routes the app
is an :class:`OpsLitestar` with only litestar's msgspec plugin. With plugin routes it is a plain
``Litestar``: a plugin's handlers may use pydantic models, as litestar documents.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from typing import Any, Callable, Iterator

import anyio
import uvicorn
from anyio.abc import TaskStatus
from litestar import Litestar, Response, get
from litestar.exceptions import HTTPException
from litestar.plugins import PluginProtocol
from litestar.plugins.core import MsgspecDIPlugin
from litestar.types import Scope
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from mdi.health import http_status, snapshot
from mdi.metrics import build_registry
from mdi.stats import ServiceStats
from mdi.statuspage.document import StatusSources
from mdi.statuspage.routes import status_routes
from mdi.timeutil import now_ns

log = logging.getLogger("mdi.http")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9100
SHUTDOWN_TIMEOUT = 5.0
# What generate_latest writes: the classic text format, version 0.0.4
# (``text/plain; version=0.0.4; charset=utf-8``).
METRICS_CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
# Litestar appends ``; charset=<encoding>`` to every ``text/*`` media type itself.
_METRICS_MEDIA_TYPE = METRICS_CONTENT_TYPE.removesuffix("; charset=utf-8")
_NO_STORE = {"Cache-Control": "no-store"}


class OpsLitestar(Litestar):
    """A ``Litestar`` without the default pydantic and attrs plugins (see the module docstring)."""

    @staticmethod
    def _get_default_plugins(plugins: list[PluginProtocol]) -> list[PluginProtocol]:
        plugins.append(MsgspecDIPlugin())  # what litestar adds first, unconditionally
        return plugins


def make_app(
    service: ServiceStats,
    *,
    clock: Callable[[], int] = now_ns,
    sources: StatusSources | None = None,
) -> Litestar:
    """The litestar app: ``/metrics`` (Prometheus text), ``/health`` (JSON, 200 or 503), the
    status page (``/``, ``/status.json``, ``/static/...``) and the routes plugins registered.

    Handlers are ``async`` on purpose: they run on the event loop that mutates ``service``, so a
    scrape reads a consistent view and never races the hot path from a worker thread.
    """
    registry = build_registry(service, clock=clock)

    @get("/metrics")
    async def metrics() -> Response[bytes]:
        return Response(generate_latest(registry), media_type=_METRICS_MEDIA_TYPE, headers=_NO_STORE)

    @get("/health")
    async def health() -> Response[dict[str, Any]]:
        return Response(snapshot(service, clock=clock), status_code=http_status(service), headers=_NO_STORE)

    sources = sources or StatusSources()
    page = status_routes(service, sources, clock)
    app_type = Litestar if sources.plugin_routes else OpsLitestar
    return app_type(
        route_handlers=[metrics, health, *page],
        openapi_config=None,  # no /schema routes: this port serves ops endpoints only
        logging_config=None,  # never reconfigure logging: mdi.logs owns the root logger
        after_exception=[_log_exception],
    )


async def _log_exception(exc: Exception, scope: Scope) -> None:
    """Litestar without a logging config logs nothing; an ops endpoint failing must be seen.
    (Client errors such as 404 are answered, not logged.)"""
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        return
    log.error("http handler failed", extra={"path": scope.get("path", "")}, exc_info=exc)


class EmbeddedServer(uvicorn.Server):
    """uvicorn's server minus its signal handling; ``ready`` is set once it is listening."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = anyio.Event()
        self.stop_requested = False

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """No-op: uvicorn >= 0.29 would replace SIGINT/SIGTERM handlers and re-raise on exit."""
        yield

    def install_signal_handlers(self) -> None:
        """No-op: the pre-0.29 name of the same hook."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()

    def request_stop(self) -> None:
        self.stop_requested = True
        self.should_exit = True


async def _bind(host: str, port: int) -> socket.socket:
    """A listening, non-blocking TCP socket; ``port=0`` lets the OS pick a free port."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    if not infos:
        raise OSError(f"cannot resolve HTTP listen address {host!r}")
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen for HTTP on {host}:{port}: {exc.strerror}") from exc
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if sock.family == socket.AF_INET6 else f"http://{host}:{port}"


def _config(service: ServiceStats, clock: Callable[[], int], **app: Any) -> uvicorn.Config:
    return uvicorn.Config(
        make_app(service, clock=clock, **app),
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="on",
        http="h11",
        ws="none",
        server_header=False,
        timeout_graceful_shutdown=int(SHUTDOWN_TIMEOUT),
    )


async def _run_server(server: EmbeddedServer, sock: socket.socket, scope: anyio.CancelScope) -> None:
    """uvicorn's ``serve()``, shielded: it is stopped via ``should_exit`` (or the deadline that
    :func:`serve_http` puts on ``scope``), never torn apart mid-shutdown by cancellation."""
    with scope:
        try:
            await server.serve(sockets=[sock])
        except SystemExit as exc:  # uvicorn exits the process when the app's lifespan fails
            raise RuntimeError(f"HTTP server failed to start (exit code {exc.code})") from None
    if not server.stop_requested and not scope.cancel_called:
        raise RuntimeError("HTTP server stopped unexpectedly")


async def serve_http(
    service: ServiceStats,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    clock: Callable[[], int] = now_ns,
    sources: StatusSources | None = None,
    task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the ops app (:func:`make_app`) until cancelled; ``task_status.started(url)`` reports
    the real ``http://host:port`` once the socket listens (use ``await tg.start(serve_http, ...)``)."""
    sock = await _bind(host, port)
    try:
        server = EmbeddedServer(_config(service, clock, sources=sources))
        shield = anyio.CancelScope(shield=True)
        async with anyio.create_task_group() as tg:
            tg.start_soon(_run_server, server, sock, shield)
            try:
                await server.ready.wait()
                url = _url(sock)
                log.info("http listening", extra={"url": url})
                task_status.started(url)
                await anyio.sleep_forever()
            finally:  # also when cancelled during start-up: the shielded child must be told
                server.request_stop()
                shield.deadline = anyio.current_time() + SHUTDOWN_TIMEOUT
    finally:
        sock.close()


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "METRICS_CONTENT_TYPE", "EmbeddedServer", "make_app", "serve_http"]
