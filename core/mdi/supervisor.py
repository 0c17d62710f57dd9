"""Restarting crashed connectors and pipelines within a budget.

A component that raises is restarted after a capped exponential backoff, as long as it has not
crashed ``max_restarts`` times within ``window`` seconds; then it is marked ``failed`` (visible
in /health) and the rest of the service runs on. Cancellation is never caught here.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Awaitable, Callable

import anyio

from mdi.config import SupervisorConfig
from mdi.stats import ComponentStats

log = logging.getLogger("mdi.supervisor")


async def supervise(
    run: Callable[[], Awaitable[None]],
    stats: ComponentStats,
    config: SupervisorConfig,
    on_failed: Callable[[], None] | None = None,
) -> None:
    """Run ``run()`` until it returns; restart it on exceptions within the budget."""
    crashes: deque[float] = deque()
    while True:
        stats.state = "running"
        try:
            await run()
        except Exception as exc:  # noqa: BLE001 - the point of a supervisor; never BaseException
            now = time.monotonic()
            crashes.append(now)
            while crashes and now - crashes[0] > config.window:
                crashes.popleft()
            stats.last_error = f"{type(exc).__name__}: {exc}"
            if len(crashes) > config.max_restarts:
                stats.state = "failed"
                log.error(
                    "component failed: restart budget spent",
                    extra={"component": stats.name, "kind": stats.kind, "error": stats.last_error,
                           "max_restarts": config.max_restarts, "window_s": config.window},
                    exc_info=exc,
                )
                if on_failed is not None:
                    on_failed()
                return
            delay = min(config.backoff_max, config.backoff_initial * 2 ** (len(crashes) - 1))
            stats.state = "restarting"
            stats.restarts += 1
            log.warning(
                "component crashed; restarting",
                extra={"component": stats.name, "kind": stats.kind, "error": stats.last_error,
                       "restart_in_s": delay, "restarts": stats.restarts},
                exc_info=exc,
            )
            await anyio.sleep(delay)
        else:
            stats.state = "stopped"
            return
