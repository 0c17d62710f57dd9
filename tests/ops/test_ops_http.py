"""serve_http: real sockets, real HTTP, the service's event loop, and its signals left alone."""

from __future__ import annotations

import errno
import inspect
import os
import signal
import socket
from functools import partial
from typing import Iterator

import anyio
import httpx
import pytest

from ops_support import build_service, fixed_clock, serving
from mdi.http import DEFAULT_HOST, DEFAULT_PORT, serve_http
from mdi.stats import ServiceStats

pytestmark = pytest.mark.anyio


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


async def test_health_200_then_503_when_durable_sink_down() -> None:
    service = build_service()
    async with serving(service) as url, httpx.AsyncClient() as client:
        ok = await client.get(f"{url}/health")
        service.sinks["parquet"].state = "down"
        service.sinks["parquet"].detail = "disk full"
        down = await client.get(f"{url}/health")
    assert ok.status_code == 200
    assert ok.headers["content-type"] == "application/json"
    assert ok.json()["status"] == "degraded"  # redis degraded, coinbase backing off
    assert ok.json()["sinks"]["parquet"]["queue_depth"] == 19
    assert down.status_code == 503
    body = down.json()
    assert body["status"] == "down"
    assert body["sinks"]["parquet"] == {"state": "down", "delivery": "durable", "queue_depth": 19, "drops": 0, "detail": "disk full"}
    assert "sink parquet (durable) is down: disk full" in body["reasons"]


async def test_health_503_while_starting() -> None:
    async with serving(ServiceStats()) as url, httpx.AsyncClient() as client:
        response = await client.get(f"{url}/health")
    assert response.status_code == 503
    assert response.json()["service_state"] == "starting"


async def test_port_zero_reports_real_port_and_closes_on_cancel() -> None:
    async with serving(build_service()) as url:
        assert url.startswith("http://127.0.0.1:")
        port = _port(url)
        assert port != 0 and _listening(port)
    assert not _listening(port)


async def test_only_the_ops_routes() -> None:
    """/metrics, /health and the status page (/, /status.json, /static/<asset>); nothing else."""
    async with serving(build_service()) as url, httpx.AsyncClient() as client:
        codes = [(await client.get(f"{url}{path}")).status_code for path in ("/schema", "/healthz", "/static/nope.js", "/")]
    assert codes == [404, 404, 404, 200]


async def test_default_bind_is_loopback_9100() -> None:
    params = inspect.signature(serve_http).parameters
    assert (params["host"].default, params["port"].default) == (DEFAULT_HOST, DEFAULT_PORT) == ("127.0.0.1", 9100)


@pytest.fixture
def python_sigint() -> Iterator[None]:
    """SIGINT as Python sets it up in a foreground process. A process started in the background
    by a non-interactive shell inherits SIGINT *ignored*, and asyncio's remove_signal_handler()
    always restores Python's default_int_handler, never an inherited SIG_IGN."""
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, inherited)


@pytest.mark.usefixtures("python_sigint")
async def test_signals_stay_with_the_runtime() -> None:
    """uvicorn's serve() would install its own SIGINT/SIGTERM handlers (capture_signals) and
    swallow the signal; here the runtime's receiver gets it and the server keeps serving."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with anyio.open_signal_receiver(signal.SIGINT) as signals:
        handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
        async with serving(build_service()) as url, httpx.AsyncClient() as client:
            assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
            os.kill(os.getpid(), signal.SIGINT)
            with anyio.fail_after(5):
                received = await signals.__anext__()
            still = await client.get(f"{url}/metrics")
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
    assert received == signal.SIGINT
    assert still.status_code == 200
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


async def test_cancel_with_open_keepalive_connection() -> None:
    async with httpx.AsyncClient() as client:
        with anyio.fail_after(10):  # a hang guard, not a timing assertion
            async with serving(build_service()) as url:
                assert (await client.get(f"{url}/health")).status_code == 200
                port = _port(url)
        assert not _listening(port)


async def test_cancel_during_startup_returns() -> None:
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(serve_http, build_service(), "127.0.0.1", 0, clock=fixed_clock))
            await anyio.sleep(0)
            tg.cancel_scope.cancel()
    assert tg.cancel_scope.cancel_called


async def test_port_in_use_is_an_oserror() -> None:
    async with serving(build_service()) as url:
        with pytest.raises(OSError, match="cannot listen for HTTP on 127.0.0.1") as info:
            await serve_http(build_service(), "127.0.0.1", _port(url))  # fails before serving
    assert info.value.errno == errno.EADDRINUSE
