"""The journal's part of a service run (called by :mod:`mdi.runtime`, kept here so the runtime
stays small): open and scan, register the sinks that take part, reserve numbers, replay, close.

The journal shows in ``/health`` and ``/metrics`` as the durable sink ``journal`` (its state is
``down`` with the reason while it cannot write), so the existing rules give 503 when the durable
path is blocked by the journal, and its counters are ``mdi_sink_<key>_total{sink="journal"}``.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Callable, Sequence

import anyio

from mdi.channel import BatchChannel
from mdi.events import EventBase
from mdi.journal.config import JournalConfig
from mdi.journal.journal import Journal
from mdi.journal.recovery import RecoverableSink, Target, replay
from mdi.stats import ServiceStats, SinkStats

log = logging.getLogger("mdi.journal")
STATS_NAME = "journal"

# (name, component, input channel) of each durable sink that is up
DurableInput = tuple[str, object, BatchChannel[EventBase]]


class JournalRun:
    def __init__(self, config: JournalConfig, service: ServiceStats) -> None:
        self.stats = SinkStats(name=STATS_NAME, delivery="durable")
        service.sinks[STATS_NAME] = self.stats
        self.journal = Journal(config, self.stats)
        self.high_seq = 0

    async def open(self) -> int:
        """Scan the journal; return the highest number any earlier run handed out or reserved."""
        opened = await anyio.to_thread.run_sync(self.journal.open)
        self.high_seq = opened.high_seq
        log.info(
            "journal opened",
            extra={"root": str(self.journal.store.root), "segments": len(opened.scans), "high_seq": opened.high_seq,
                   "torn_segments": opened.torn_segments, "torn_bytes": opened.torn_bytes},
        )
        if opened.torn_bytes:
            log.warning("journal: torn tail dropped (a crash cut the last records short)",
                        extra={"torn_segments": opened.torn_segments, "torn_bytes": opened.torn_bytes})
        return opened.high_seq

    def committer(self, sink: str) -> Callable[[int], None]:
        return partial(self.journal.committed, sink)

    async def start(self, first_seq: int, durable: Sequence[tuple[str, object]]) -> None:
        """Register the sinks that take part, then reserve numbers durably and start writing."""
        for name, component in durable:
            if isinstance(component, RecoverableSink):
                self.journal.register(name)
            else:
                log.warning("durable sink does not implement recovery_marks: the journal cannot recover it "
                            "after a crash", extra={"sink": name})
        try:
            await anyio.to_thread.run_sync(self.journal.start, first_seq)
        except OSError as exc:
            raise RuntimeError(f"journal {self.journal.store.root}: cannot begin a segment ({exc}); "
                               "free space on that disk or point [journal] root elsewhere") from exc

    async def recover(self, durable: Sequence[DurableInput]) -> None:
        """Hand each taking-part sink the journaled events it has not stored (before routing)."""
        targets = [
            Target(name, channel, component.recovery_marks())
            for name, component, channel in durable
            if isinstance(component, RecoverableSink)
        ]
        done = await replay(self.journal, targets)
        self.stats.counters["recovered_rows"] += done.rows
        self.stats.counters["undecodable_records"] += done.undecodable
        self.stats.gauges["recovery_seconds"] = round(done.seconds, 6)
        rate = done.read / done.seconds if done.seconds > 0 else 0.0
        log.info(
            "journal recovery done",
            extra={"rows_recovered": done.rows, "rows_read": done.read, "seconds": round(done.seconds, 3),
                   "rows_per_s": round(rate), "per_sink": done.per_sink},
        )

    async def close(self, give_up: Callable[[], bool]) -> None:
        """The journal's last group commit; shielded, so a forced exit (``give_up``) is the only
        thing that cuts it short."""
        with anyio.CancelScope(shield=True):
            await self.journal.close(give_up)
