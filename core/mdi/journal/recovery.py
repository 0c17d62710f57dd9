"""Recovery at start: hand each durable sink the journal's events it has not stored, once.

Runs after the sinks are open and before the router, the pipelines or any connector start, so
the recovered events reach each sink before any new one and in sequence order. A sink takes
part by implementing :class:`RecoverableSink` (the contract in docs/plugins.md): it names, per
stream, the highest sequence number it has stored, with every lower event of that stream stored
too. The journal hands it exactly the events above that mark.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Mapping, Protocol, runtime_checkable

import anyio
import msgspec

from mdi.channel import BatchChannel
from mdi.events import KIND_OF, EventBase
from mdi.journal.format import EVENTS, decode_payload, iter_records
from mdi.journal.journal import Journal

log = logging.getLogger("mdi.journal")


@runtime_checkable
class RecoverableSink(Protocol):
    def recovery_marks(self) -> Mapping[str, int]:
        """After ``open``: stream (event kind) -> highest seq stored, all lower ones stored too."""


@dataclass
class Target:
    name: str
    channel: BatchChannel[EventBase]
    marks: Mapping[str, int]
    handed: int = 0
    first: int = 0  # the first seq handed over (0: none yet)


@dataclass
class Replayed:
    rows: int = 0  # events handed to sinks, summed over sinks
    read: int = 0  # events read from the journal
    seconds: float = 0.0
    undecodable: int = 0  # records whose checksum holds but whose events this version cannot decode
    per_sink: dict[str, int] = field(default_factory=dict)


async def replay(journal: Journal, targets: list[Target]) -> Replayed:
    """Feed every journaled event above each target's marks into its channel (waits as the sink
    consumes; the channels are bounded), then tell the journal where each sink stands."""
    assert journal.opened is not None, "Journal.open() first"
    started = time.monotonic()
    out = Replayed()
    floor = min((min(t.marks.values(), default=0) if len(t.marks) >= len(KIND_OF) else 0 for t in targets), default=0)
    for scan in journal.opened.scans:
        if scan.max_event_seq <= floor or not targets:
            continue
        data = await anyio.to_thread.run_sync(scan.path.read_bytes)
        for record, _ in iter_records(memoryview(data)[: scan.good_size]):
            if record.kind != EVENTS or record.last_seq <= floor:
                continue
            try:
                events = decode_payload(record.payload)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:  # whole, but not events we know
                out.undecodable += 1
                log.error("journal record cannot be decoded; skipped", extra={
                    "segment": scan.path.name, "first_seq": record.first_seq, "last_seq": record.last_seq, "error": str(exc)})
                continue
            out.read += len(events)
            for target in targets:
                await _hand(journal, target, events)
    high = journal.opened.high_seq
    for target in targets:
        journal.committed(target.name, target.first - 1 if target.first else high)
        out.per_sink[target.name] = target.handed
        out.rows += target.handed
    out.seconds = time.monotonic() - started
    return out


async def _hand(journal: Journal, target: Target, events: list[EventBase]) -> None:
    marks, kind_of = target.marks, KIND_OF
    wanted = [e for e in events if e.seq > marks.get(kind_of[type(e)], 0)]
    if not wanted:
        return
    if not target.first:
        target.first = wanted[0].seq
        journal.committed(target.name, target.first - 1)
    target.handed += len(wanted)
    await target.channel.put(wanted)
