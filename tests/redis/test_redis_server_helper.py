"""The RedisServer test helper itself: start, stop, restart on the same port, missing binary."""

from __future__ import annotations

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from mdi.testing.redis_server import BINARY_ENV, RedisServer, RedisServerNotFound


def test_restart_keeps_the_port_and_starts_empty() -> None:
    with RedisServer() as server:
        port, url = server.port, server.url
        assert url == f"redis://127.0.0.1:{port}/0"
        client = server.client()
        client.set("k", "v")
        server.stop()
        assert not server.running
        with pytest.raises(redis.ConnectionError):
            client.ping()
        server.start()
        assert (server.port, server.url, server.running) == (port, url, True)
        assert client.get("k") is None  # --save "" --appendonly no: nothing survives a restart
        assert client.config_get("appendonly") == {"appendonly": "no"}
        assert client.config_get("save") == {"save": ""}
    assert not server.dir.exists()


def test_password_is_required_when_set() -> None:
    with RedisServer(password="pw") as server:
        assert server.client().ping()
        anonymous = redis.Redis(host="127.0.0.1", port=server.port, retry=Retry(NoBackoff(), 0))
        with pytest.raises(redis.AuthenticationError):
            anonymous.get("k")


def test_missing_binary_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RedisServerNotFound, match="no-such-redis-server.*not found on PATH"):
        RedisServer(binary="no-such-redis-server")
    monkeypatch.setenv(BINARY_ENV, "/nonexistent/redis-server")
    with pytest.raises(RedisServerNotFound, match=BINARY_ENV):
        RedisServer()
