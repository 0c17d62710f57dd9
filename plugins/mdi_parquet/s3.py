"""The lake on S3-compatible object storage (``root = "s3://bucket/prefix"``), through obstore.

S3 has no rename, and pyarrow's ``move`` is a copy that silently overwrites (SCALEOUT.md), so a
file is committed by one create-only PUT of the final object (``If-None-Match: *``): readers see
the whole object or none, and a name that is taken is refused (412), never replaced. The file is
built in memory first (a file is at most ``buffer_rows`` rows, a few MB compressed) and sent as a
single PUT, not a multipart upload, so a crash leaves no abandoned upload behind.

obstore retries nothing here (``max_retries = 0``): the sink owns retries, with its backoff,
while it holds the rows (and /health says why it waits). Endpoint, region and credentials come
from ``[sinks.parquet]`` keys or the standard ``AWS_*`` environment variables.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urlsplit

import obstore
import pyarrow as pa
import pyarrow.parquet as pq
from obstore.exceptions import AlreadyExistsError, BaseError
from obstore.store import S3Store as _ObStore

from mdi_parquet.store import StoreError, WriteFn

# config key (in [sinks.parquet] options) -> environment variable it falls back to
ENV_FALLBACK = {
    "endpoint_url": ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
    "region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "access_key_id": ("AWS_ACCESS_KEY_ID",),
    "secret_access_key": ("AWS_SECRET_ACCESS_KEY",),
    "session_token": ("AWS_SESSION_TOKEN",),
}
_OBSTORE_KEY = {
    "endpoint_url": "endpoint",
    "region": "region",
    "access_key_id": "access_key_id",
    "secret_access_key": "secret_access_key",
    "session_token": "token",
}
CONNECT_TIMEOUT = "2s"
REQUEST_TIMEOUT = "30s"


def resolve_options(options: Mapping[str, str], environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Config keys win; unset ones come from the environment; region defaults to us-east-1."""
    out: dict[str, str] = {}
    for key, env_names in ENV_FALLBACK.items():
        value = options.get(key) or next((environ[n] for n in env_names if environ.get(n)), "")
        if value:
            out[key] = value
    out.setdefault("region", "us-east-1")
    return out


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix")."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"root {url!r} is not of the form s3://bucket/prefix")
    return parts.netloc, parts.path.strip("/")


def _describe(exc: BaseException) -> str:
    """obstore errors carry a multi-line debug dump; keep the first line, bounded."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return first[:300]


class S3Store:
    """:class:`mdi_parquet.store.Store` on a bucket (and key prefix) of an S3-compatible store."""

    def __init__(self, bucket: str, prefix: str, options: Mapping[str, str]) -> None:
        self.bucket, self.prefix = bucket, prefix
        self.url = f"s3://{bucket}/{prefix}".rstrip("/")
        endpoint = options.get("endpoint_url", "")
        if endpoint:
            self.url += f" at {endpoint}"
        config = {_OBSTORE_KEY[k]: v for k, v in options.items()}
        self._store = _ObStore(
            bucket,
            prefix=prefix or None,
            config=config,  # type: ignore[arg-type]
            client_options={"allow_http": endpoint.startswith("http://"), "connect_timeout": CONNECT_TIMEOUT,
                            "timeout": REQUEST_TIMEOUT},
            retry_config={"max_retries": 0, "retry_timeout": timedelta(seconds=30),
                          "backoff": {"init_backoff": timedelta(seconds=0.1), "max_backoff": timedelta(seconds=1), "base": 2}},
        )

    @classmethod
    def from_url(cls, url: str, options: Mapping[str, str]) -> S3Store:
        bucket, prefix = split_url(url)
        return cls(bucket, prefix, resolve_options(options))

    # ----- Store protocol -----------------------------------------------------------------
    def create(self, key: str, write: WriteFn) -> int | None:
        sink = pa.BufferOutputStream()
        write(sink)
        data = sink.getvalue()
        try:
            obstore.put(self._store, key, data.to_pybytes(), mode="create", use_multipart=False)
        except AlreadyExistsError:
            return None
        except BaseError as exc:
            raise StoreError(f"PUT {self.url}/{key} failed: {_describe(exc)}") from None
        return int(data.size)

    def replace(self, key: str, data: bytes) -> None:
        self._call("PUT", key, lambda: obstore.put(self._store, key, data, use_multipart=False))

    def read(self, key: str) -> bytes | None:
        try:
            return bytes(obstore.get(self._store, key).bytes())
        except FileNotFoundError:
            return None
        except BaseError as exc:
            raise StoreError(f"GET {self.url}/{key} failed: {_describe(exc)}") from None

    def size(self, key: str) -> int | None:
        try:
            return int(obstore.head(self._store, key)["size"])
        except FileNotFoundError:
            return None
        except BaseError as exc:
            raise StoreError(f"HEAD {self.url}/{key} failed: {_describe(exc)}") from None

    def names(self, prefix: str) -> list[str]:
        listing = self._call("LIST", prefix, lambda: obstore.list_with_delimiter(self._store, prefix=prefix or None))
        return [meta["path"].rsplit("/", 1)[-1] for meta in listing["objects"]]

    def subdirs(self, prefix: str) -> list[str]:
        listing = self._call("LIST", prefix, lambda: obstore.list_with_delimiter(self._store, prefix=prefix or None))
        return [p.rstrip("/").rsplit("/", 1)[-1] for p in listing["common_prefixes"]]

    def files(self, prefix: str) -> Iterator[str]:
        pages = self._call("LIST", prefix, lambda: list(obstore.list(self._store, prefix=prefix or None)))
        for page in pages:
            for meta in page:
                yield meta["path"]

    def metadata(self, key: str) -> pq.FileMetaData | None:
        data = self.read(key)
        if data is None:
            return None
        try:
            return pq.read_metadata(pa.BufferReader(data))
        except pa.ArrowException:
            return None

    def schema(self, key: str) -> pa.Schema:
        data = self.read(key)
        if data is None:
            raise StoreError(f"{self.url}/{key} vanished")
        return pq.read_schema(pa.BufferReader(data))

    def remove_leftovers(self, prefix: str, owned: Callable[[str], bool]) -> int:
        return 0  # create-only single PUTs leave nothing half-written behind

    def forget(self) -> None:
        pass

    def _call(self, verb: str, key: str, op: Callable[[], Any]) -> Any:
        try:
            return op()
        except BaseError as exc:
            raise StoreError(f"{verb} {self.url}/{key} failed: {_describe(exc)}") from None
