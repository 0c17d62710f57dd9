"""A real, throw-away ``redis-server`` on 127.0.0.1 for tests and benchmarks.

mdi tests its Redis sink against the real server, never a fake: fakes agree with whatever the
test author believed about Redis (pipelines, ``MAXLEN ~`` trimming, Pub/Sub, AUTH, TLS), a real
server does not. Each instance runs in its own temporary directory with persistence off
(``--save "" --appendonly no``), on a free port that stays the same across :meth:`stop` /
:meth:`start`, so a test can take Redis away under a running client and bring it back where the
client expects it. :meth:`pause` / :meth:`resume` (SIGSTOP / SIGCONT) simulate a hung server.

The binary is ``$MDI_REDIS_SERVER`` if set, else ``redis-server`` on ``PATH``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

BINARY_ENV = "MDI_REDIS_SERVER"
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0


class RedisServerNotFound(FileNotFoundError):
    """The ``redis-server`` binary is not installed (or ``$MDI_REDIS_SERVER`` is wrong)."""


class RedisServerError(RuntimeError):
    """``redis-server`` exited or never answered PING; the message carries its log."""


@dataclass(frozen=True)
class TlsFiles:
    """Certificate, key and CA for a TLS-only server (``rediss://``); clients are not verified."""

    cert: Path
    key: Path
    ca: Path


def find_binary(binary: str | None = None) -> str:
    """Absolute path of the server binary, or :class:`RedisServerNotFound` saying how to fix it."""
    name = binary or os.environ.get(BINARY_ENV) or "redis-server"
    path = shutil.which(name)
    if path is None:
        raise RedisServerNotFound(
            f"redis-server binary {name!r} not found on PATH: install Redis "
            f"(e.g. `apt-get install redis-server` or `brew install redis`) "
            f"or set {BINARY_ENV}=/path/to/redis-server"
        )
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One ``redis-server`` process; usable as a context manager (``with RedisServer() as r``)."""

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        port: int | None = None,
        password: str | None = None,
        tls: TlsFiles | None = None,
        binary: str | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.binary = find_binary(binary)
        self.port = port or free_port(self.host)
        self.password = password
        self.tls = tls
        self.extra_args = extra_args
        self.dir = Path(tempfile.mkdtemp(prefix="mdi-redis-"))
        self.log_path = self.dir / "redis.log"
        self._proc: subprocess.Popen[bytes] | None = None

    # ----- lifecycle -------------------------------------------------------------------
    def start(self) -> RedisServer:
        """Start (again) on ``self.port`` and return once the server answers PING."""
        if self.running:
            return self
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [self.binary, *self._args()], cwd=self.dir, stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_ready()
        return self

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL) and wait until it is gone."""
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # a paused server cannot handle SIGTERM
            proc.terminate()
            try:
                proc.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(_STOP_TIMEOUT)

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown, no goodbye to clients or cluster peers."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(_STOP_TIMEOUT)

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections but nothing answers (a hung server)."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        self._signal(signal.SIGCONT)

    def close(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ----- access ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def url(self) -> str:
        """``redis://[:password@]127.0.0.1:<port>/0`` (``rediss://`` with TLS)."""
        scheme = "rediss" if self.tls else "redis"
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"{scheme}://{auth}{self.host}:{self.port}/0"

    def client(self) -> redis.Redis:
        """A synchronous client for assertions: ``decode_responses=True``, and no silent retries,
        so a stopped server fails at once rather than after redis-py's backoff."""
        kwargs: dict[str, object] = {}
        if self.tls:
            kwargs["ssl_ca_certs"] = str(self.tls.ca)
        return redis.Redis.from_url(
            self.url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5,
            retry=Retry(NoBackoff(), 0), **kwargs,
        )

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # ----- internals -------------------------------------------------------------------
    def _args(self) -> list[str]:
        args = ["--bind", self.host, "--save", "", "--appendonly", "no", "--dir", str(self.dir)]
        if self.tls:
            args += [
                "--port", "0", "--tls-port", str(self.port),
                "--tls-cert-file", str(self.tls.cert), "--tls-key-file", str(self.tls.key),
                "--tls-ca-cert-file", str(self.tls.ca), "--tls-auth-clients", "no",
            ]  # fmt: skip
        else:
            args += ["--port", str(self.port)]
        if self.password:
            args += ["--requirepass", self.password]
        return [*args, *self.extra_args]

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        last_error: Exception | None = None
        with self.client() as probe:
            while time.monotonic() < deadline:
                if self._proc is None or self._proc.poll() is not None:
                    break
                try:
                    if probe.ping():
                        return
                except redis.RedisError as exc:
                    last_error = exc
                time.sleep(0.01)
        self.stop()
        raise RedisServerError(
            f"redis-server on port {self.port} did not answer PING ({last_error}); "
            f"its log:\n{self.log_text()[-2000:]}"
        )

    def _signal(self, sig: signal.Signals) -> None:
        if self._proc is None or self._proc.poll() is not None:
            raise RedisServerError("redis-server is not running")
        self._proc.send_signal(sig)
