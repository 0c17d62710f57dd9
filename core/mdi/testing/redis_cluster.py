"""A real, throw-away Redis Cluster on 127.0.0.1: 3 masters and 3 replicas, for tests.

Failover can only be tested with replicas (without them one dead master stops the whole
cluster's writes), and with the default node timeout (15 s) a failover takes 15-20 s, so the
nodes run with ``--cluster-node-timeout 2000``: a replica takes over ~3-4 s after its master is
killed. Start-up is ~6-7 s (until every replica's link is up), so a test module shares one
cluster. Built from :class:`~mdi.testing.redis_server.RedisServer` (same binary lookup, own
temporary directory per node, persistence off); the cluster is joined with
``redis-cli --cluster create`` (``$MDI_REDIS_CLI`` or ``redis-cli`` on ``PATH``).
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from types import TracebackType

import redis
from redis.cluster import RedisCluster

from mdi.testing.redis_server import RedisServer, RedisServerError, RedisServerNotFound

NODE_TIMEOUT_MS = 2000
_FORM_TIMEOUT = 40.0
_BUS_OFFSET = 10_000  # each node also listens on port + 10000 (the cluster bus)


def free_cluster_port(taken: set[int]) -> int:
    """A port <= 55535 that is free together with its bus port (port + 10000)."""
    for _ in range(1000):
        port = random.randint(20_000, 55_535)
        if port in taken or port + _BUS_OFFSET in taken:
            continue
        if _bindable(port) and _bindable(port + _BUS_OFFSET):
            return port
    raise RedisServerError("no free port pair for a cluster node")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class RedisClusterRunner:
    """``with RedisClusterRunner() as cluster:`` -> ``cluster.url`` is a seed node's URL."""

    host = "127.0.0.1"

    def __init__(self, masters: int = 3, replicas_per_master: int = 1) -> None:
        self.masters_wanted = masters
        self.replicas = replicas_per_master
        self.nodes: list[RedisServer] = []
        cli = os.environ.get("MDI_REDIS_CLI") or "redis-cli"
        found = shutil.which(cli)
        if found is None:
            raise RedisServerNotFound(f"{cli!r} not found on PATH: install Redis or set MDI_REDIS_CLI")
        self.cli = found

    def start(self) -> RedisClusterRunner:
        count = self.masters_wanted * (1 + self.replicas)
        args = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS))
        try:
            taken: set[int] = set()
            for _ in range(count):
                port = free_cluster_port(taken)
                taken |= {port, port + _BUS_OFFSET}
                self.nodes.append(RedisServer(port=port, extra_args=args).start())
            self._create()
            self.wait_healthy()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        for node in self.nodes:
            node.close()
        self.nodes = []

    def __enter__(self) -> RedisClusterRunner:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # ----- access ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The first live node's URL: a seed, from which a client learns the whole cluster."""
        node = next(n for n in self.nodes if n.running)
        return f"redis://{self.host}:{node.port}"

    def client(self) -> RedisCluster:
        """A synchronous cluster client for assertions (``decode_responses=True``)."""
        return RedisCluster.from_url(self.url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5)

    def role(self, node: RedisServer) -> str:
        with node.client() as c:
            return str(c.info("replication")["role"])

    def masters(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.running and self.role(n) == "master"]

    def master_of(self, key: str) -> RedisServer:
        """The live node that serves ``key``'s slot as master."""
        with self.client() as c:
            node = c.get_node_from_key(key)
            port = int(node.port)
        return next(n for n in self.nodes if n.port == port)

    def kill(self, node: RedisServer) -> None:
        """SIGKILL one node; with replicas, one of its replicas is promoted ~2-4 s later."""
        node.kill()

    def restart(self, node: RedisServer) -> None:
        """Start a killed node again on its port and directory: its ``nodes.conf`` brings it back
        into the cluster, as a replica of whoever took over its slots."""
        node.start()
        self.wait_healthy()

    def wait_healthy(self, timeout: float = _FORM_TIMEOUT) -> None:
        """Until every live node says ``cluster_state:ok`` and every slot has a live master."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                if all(self._node_ok(n) for n in self.nodes if n.running):
                    return
            except redis.RedisError as exc:
                last = str(exc)
            time.sleep(0.1)
        raise RedisServerError(f"cluster not healthy within {timeout} s ({last})")

    # ----- internals -------------------------------------------------------------------
    def _create(self) -> None:
        addresses = [f"{self.host}:{n.port}" for n in self.nodes]
        done = subprocess.run(
            [self.cli, "--cluster", "create", *addresses, "--cluster-replicas", str(self.replicas), "--cluster-yes"],
            capture_output=True, text=True, timeout=60,
        )
        if done.returncode != 0:
            raise RedisServerError(f"redis-cli --cluster create failed: {done.stdout[-1500:]} {done.stderr[-500:]}")

    def _node_ok(self, node: RedisServer) -> bool:
        with node.client() as c:
            info = c.execute_command("CLUSTER", "INFO")
            text = info if isinstance(info, str) else str(info)
            if "cluster_state:ok" not in text:
                return False
            replication = c.info("replication")
            return replication["role"] == "master" or replication.get("master_link_status") == "up"
