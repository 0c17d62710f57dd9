"""Password and TLS URLs against real servers started with ``--requirepass`` / ``--tls-port``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from redis_harness import SinkHarness, bbo, read_json

from mdi.testing.redis_server import RedisServer, TlsFiles

TLS_DIR = Path(__file__).resolve().parent / "tls"
PASSWORD = "s3cr/et pw@1"  # needs URL quoting: '/', ' ' and '@'


@pytest.fixture
def auth_server() -> Iterator[RedisServer]:
    with RedisServer(password=PASSWORD) as server:
        yield server


@pytest.mark.anyio
async def test_password_in_url_authenticates(auth_server: RedisServer) -> None:
    assert auth_server.url.startswith("redis://:s3cr%2Fet%20pw%401@127.0.0.1:")
    h = SinkHarness(auth_server.url)
    h.put(bbo(seq=7))
    await h.run_to_end()
    assert h.stats.state == "ok"
    assert read_json(auth_server.client(), "md:v1:spot_bbo:kraken:BTC-USD")["seq"] == 7


@pytest.mark.anyio
async def test_wrong_password_degrades_without_leaking_it(auth_server: RedisServer) -> None:
    url = f"redis://:wrong-pw@127.0.0.1:{auth_server.port}/0"
    h = SinkHarness(url)
    h.put(bbo(seq=1))
    await h.run_to_end()
    assert h.stats.state == "degraded"
    assert "AuthenticationError" in h.stats.detail
    assert "wrong-pw" not in h.stats.detail and ":***@127.0.0.1" in h.stats.detail
    assert h.counters["writes"] == 0 and h.counters["errors"] >= 2


@pytest.mark.anyio
async def test_rediss_url_with_password_over_tls() -> None:
    tls = TlsFiles(cert=TLS_DIR / "server.crt", key=TLS_DIR / "server.key", ca=TLS_DIR / "ca.crt")
    with RedisServer(password=PASSWORD, tls=tls) as server:
        url = f"{server.url}?ssl_ca_certs={tls.ca}"
        assert url.startswith("rediss://")
        h = SinkHarness(url, health_interval=1.0)
        h.put(bbo(seq=3))
        await h.run_to_end()
        assert h.stats.state == "ok", h.stats.detail
        r = server.client()
        assert read_json(r, "md:v1:spot_bbo:kraken:BTC-USD")["seq"] == 3
        assert read_json(r, "md:v1:health")["sink"]["state"] == "ok"
