"""A test-only control for ``mdi demo``: stall a venue's simulator from outside the process.

Set ``MDI_DEMO_CONTROL`` to a directory. While a file ``<venue>.stall`` exists there (``venue``
is the simulator's venue name: ``kraken``, ``coinbase``, ``deribit``, ``binance``), that
simulator keeps its connections and heartbeats but sends no market data (its ``stalled`` knob),
so the connector turns ``stale`` after its ``stale_after``. Removing the file resumes the data.
A file is used, rather than a port or a signal, because a browser test already owns the demo's
stdio and ports and needs nothing but a path to drive it. Unset (the default): no effect.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

import anyio

from mdi.testing.sim import VenueSimulator

ENV = "MDI_DEMO_CONTROL"
POLL_INTERVAL = 0.1

log = logging.getLogger("mdi.demo")


def control_dir() -> Path | None:
    raw = os.environ.get(ENV, "")
    return Path(raw) if raw else None


def apply(directory: Path, sims: Sequence[VenueSimulator]) -> None:
    """Set each simulator's ``stalled`` from the presence of its ``<venue>.stall`` file."""
    for sim in sims:
        stalled = (directory / f"{sim.venue}.stall").exists()
        if stalled != sim.stalled:
            log.warning("demo control: simulator %s", "stalled" if stalled else "resumed", extra={"venue": sim.venue})
            sim.stalled = stalled


async def watch(sims: Sequence[VenueSimulator]) -> None:
    """Poll the control directory until cancelled (returns at once when ``MDI_DEMO_CONTROL`` is unset)."""
    directory = control_dir()
    if directory is None:
        return
    while True:
        apply(directory, sims)
        await anyio.sleep(POLL_INTERVAL)


__all__ = ["ENV", "apply", "control_dir", "watch"]
