"""Fixtures for the scale-out tests: a real S3-compatible server (moto) with a fresh bucket."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mdi.testing.redis_cluster import RedisClusterRunner
from mdi.testing.s3_server import S3Server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "parquet"))  # parquet_support


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    """One moto server per module; each test gets its own bucket (see ``bucket``)."""
    with S3Server() as server:
        yield server


@pytest.fixture
def bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new bucket, with the AWS_* variables pointing at the server (as an operator would set)."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return s3_server.create_bucket(f"lake-{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterRunner]:
    """One 3-master, 3-replica cluster for the whole session (it takes ~7 s to form). A test
    that kills a node restarts it before it ends, so the next test finds 3 + 3 again."""
    with RedisClusterRunner() as cluster:
        yield cluster
