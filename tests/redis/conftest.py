"""Fixtures for the Redis sink tests: a real redis-server per test (about 20 ms to start)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from redis_harness import SinkHarness

from mdi.testing.redis_server import RedisServer


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A running server; tests may stop() and start() it again on the same port."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def absent_redis() -> Iterator[RedisServer]:
    """A server that is NOT started: its port is free, so connections are refused."""
    server = RedisServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def harness(redis_server: RedisServer) -> Callable[..., SinkHarness]:
    """``harness(**config_overrides)``: a RedisSink wired to ``redis_server``."""

    def make(**overrides: Any) -> SinkHarness:
        return SinkHarness(redis_server.url, **overrides)

    return make
