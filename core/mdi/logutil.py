"""Rate-limited warnings: a venue spewing garbage must not flood the log, and nothing is hidden.

The first occurrence of each key logs at once; later ones within ``interval`` are counted and the
count is reported with the next message that gets through.
"""

from __future__ import annotations

import logging
import time

_default_interval = 10.0


def set_default_interval(seconds: float) -> None:
    """Interval for RateLimitedLogs created without one (``[logging] rate_limit_interval``)."""
    global _default_interval
    _default_interval = seconds


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, interval: float | None = None) -> None:
        self.logger = logger
        self.interval = _default_interval if interval is None else interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, msg: str, *args: object) -> None:
        self._log(logging.WARNING, key, msg, *args)

    def error(self, key: str, msg: str, *args: object) -> None:
        self._log(logging.ERROR, key, msg, *args)

    def _log(self, level: int, key: str, msg: str, *args: object) -> None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        self._last[key] = now
        suppressed = self._suppressed.pop(key, 0)
        self.logger.log(level, msg, *args, extra={"key": key, "suppressed": suppressed})
