"""``[sinks.redis]``: where the hot cache lives and how hard the sink tries to keep it current."""

from __future__ import annotations

from urllib.parse import urlsplit

import msgspec

URL_SCHEMES = ("redis", "rediss", "unix")


class RedisSinkConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Every field has a default, so ``[sinks.redis]`` alone gives a working local cache.

    Durations are seconds. Validation happens at config load (``__post_init__``), so a typo in
    the URL scheme or a zero interval is a start-up error with the key path, while Redis being
    unreachable never is.
    """

    url: str = "redis://127.0.0.1:6379/0"
    # Redis Cluster: url is any one node (a seed); keys get this instance's hash tag (docs/redis.md).
    cluster: bool = False
    prefix: str = "md:v1"
    flush_interval: float = 0.05
    health_interval: float = 1.0
    window_len: int = 60
    window_exact: bool = False
    pubsub: bool = True
    latest_trade: bool = False
    key_ttl: float = 0.0
    max_keys: int = 10_000
    connect_timeout: float = 1.0
    command_timeout: float = 1.0
    backoff_initial: float = 0.1
    backoff_max: float = 5.0
    final_flush_timeout: float = 2.0

    def __post_init__(self) -> None:
        scheme = urlsplit(self.url).scheme
        if scheme not in URL_SCHEMES:
            raise ValueError(f"`url`: must start with redis://, rediss:// or unix://, got {self.url!r}")
        if self.cluster and scheme == "unix":
            raise ValueError("`cluster`: cluster = true needs a redis:// or rediss:// seed node URL, not unix://")
        if not self.prefix or self.prefix.endswith(":"):
            raise ValueError(f"prefix must be non-empty without a trailing ':', got {self.prefix!r}")
        _positive(
            flush_interval=self.flush_interval,
            connect_timeout=self.connect_timeout,
            command_timeout=self.command_timeout,
            backoff_initial=self.backoff_initial,
            final_flush_timeout=self.final_flush_timeout,
            window_len=self.window_len,
            max_keys=self.max_keys,
        )
        if self.health_interval < 0 or self.key_ttl < 0:
            raise ValueError("health_interval and key_ttl must be >= 0 (0 disables)")
        if self.backoff_max < self.backoff_initial:
            raise ValueError("backoff_max must be >= backoff_initial")


def _positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")
