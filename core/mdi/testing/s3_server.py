"""A real, throw-away S3-compatible server on 127.0.0.1 for tests: moto's server.

mdi tests its object-storage lake against a server that speaks the S3 protocol over HTTP,
conditional PUTs included (``If-None-Match: *`` answers 412 when the key exists; SCALEOUT.md has
the probes), never against a fake of the client. Two flavours:

- :class:`S3Server` runs ``moto.server.ThreadedMotoServer`` in this process. Its objects live in
  moto's in-process backend, so :meth:`S3Server.stop` then :meth:`S3Server.start` takes the
  endpoint away and brings it back *with its objects*, on the same port: an honest outage.
- :class:`S3ServerProcess` runs ``moto_server`` as a child process (for tests whose writers are
  other processes and should not share the test's GIL). Its objects die with it.

Both are in memory only and manage ~70-160 small PUTs/s: keep tests to hundreds of objects.
Needs the ``moto[server]`` and ``boto3`` packages (``pip install 'md-ingest[test-s3]'``).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from types import TracebackType
from typing import Any

ACCESS_KEY = "mdi-test"
SECRET_KEY = "mdi-test-secret"
REGION = "us-east-1"
_START_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Endpoint:
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The standard ``AWS_*`` variables that point a client (and ``mdi run``) here."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
        }

    def client(self) -> Any:
        """A boto3 S3 client for this server (setting up buckets, checking objects)."""
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY, region_name=REGION,
        )

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def s3fs(self) -> Any:
        """An ``s3fs.S3FileSystem`` on this server (DuckDB's offline route to ``s3://``)."""
        import s3fs

        return s3fs.S3FileSystem(key=ACCESS_KEY, secret=SECRET_KEY, endpoint_url=self.endpoint,
                                 client_kwargs={"region_name": REGION}, skip_instance_cache=True)

    def pyarrow_fs(self) -> Any:
        """A ``pyarrow.fs.S3FileSystem`` on this server (for ``pyarrow.dataset``)."""
        from pyarrow import fs

        return fs.S3FileSystem(access_key=ACCESS_KEY, secret_key=SECRET_KEY, endpoint_override=self.endpoint,
                               scheme="http", region=REGION)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"S3 server on port {self.port} did not start within {_START_TIMEOUT} s")


class S3Server(_Endpoint):
    """moto's threaded server in this process; stop/start keeps the objects and the port."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server: Any = None
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> S3Server:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.wait_ready()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


class S3ServerProcess(_Endpoint):
    """``moto_server`` as a child process on a free port (its objects are gone when it stops)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> S3ServerProcess:
        binary = shutil.which("moto_server", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
        cmd = [binary] if binary else [sys.executable, "-m", "moto.server"]
        self.proc = subprocess.Popen([*cmd, "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wait_ready()
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def __enter__(self) -> S3ServerProcess:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
