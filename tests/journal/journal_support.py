"""Shared helpers for the journal tests: stamped events, a journal written and closed, and
waiting for a condition with a generous deadline (the machine may be loaded)."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Callable

from mdi.events import BBO, EventBase, Trade, stamp_seq
from mdi.journal import Journal, JournalConfig
from mdi.stats import SinkStats

T0 = 1_716_814_799_500_000_000


def batch(first_seq: int, n: int, kinds: tuple[str, ...] = ("trade", "bbo")) -> list[EventBase]:
    """``n`` stamped events from ``first_seq``, alternating kinds, with exact decimals."""
    out: list[EventBase] = []
    for i in range(n):
        seq = first_seq + i
        kind = kinds[i % len(kinds)]
        event: EventBase
        if kind == "trade":
            event = Trade(venue="kraken", symbol="BTC-USD", ts_recv=T0 + seq, trade_id=str(seq),
                          price=Decimal("67123.40000001") + seq, size=Decimal("0.00012345"), side="buy")
        else:
            event = BBO(venue="coinbase", symbol="BTC-USD", ts_recv=T0 + seq, bid_px=Decimal("67123.4"),
                        bid_sz=Decimal("1E-8"), ask_px=Decimal("67123.5"), ask_sz=Decimal("2.50"))
        stamp_seq(event, seq)
        out.append(event)
    return out


def new_journal(root: Path, **overrides: object) -> Journal:
    config = JournalConfig(enabled=True, root=str(root), **overrides)  # type: ignore[arg-type]
    return Journal(config, SinkStats(name="journal", delivery="durable"))


async def write_journal(root: Path, batches: list[list[EventBase]], **overrides: object) -> Journal:
    """Open, start, append every batch, close: what a run that stopped cleanly leaves."""
    journal = new_journal(root, **overrides)
    journal.open()
    journal.start(batches[0][0].seq if batches else 1)
    for b in batches:
        await journal.reserve_through(b[-1].seq)
        await journal.append(b)
    await journal.close()
    return journal


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def segments(root: Path) -> list[Path]:
    return sorted(root.glob("wal-*.seg"))
