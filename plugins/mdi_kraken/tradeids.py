"""De-duplication memory of Kraken trades keyed by one int per ``(pair, trade_id)``."""

from __future__ import annotations

from typing import Hashable

from mdi.dedup import RecentIds

# Trade ids below this are keyed as plain ints (Kraken's are far below it); see PairTradeIds.
ID_LIMIT = 1 << 64


class PairTradeIds(RecentIds):
    """:class:`RecentIds` of ``(pair, trade_id)`` that stores one int per trade, not a tuple.

    A tuple per trade costs an allocation, a hash of two objects, and a GC-tracked object in a
    set of 100,000 (each one counts toward the next collection). Each pair gets an offset
    (``n << 64``, in order of first sight) and an id ``0 <= id < 2**64`` is kept as
    ``offset + id``: one int, distinct for every ``(pair, id)``. Ids outside that range keep
    the tuple, which equals no int, so the memory is exactly the tuple-keyed one: the same
    capacity, the same evictions, the same answers.

    The backfiller calls :meth:`seen` with ``(symbol, int(trade_id))`` as before; the session
    builds keys inline (:meth:`offset` once per pair) and calls :meth:`seen_key`.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        super().__init__(capacity)
        self.offsets: dict[str, int] = {}

    def offset(self, symbol: str) -> int:
        """The pair's offset (given the first time a pair is asked for)."""
        offset = self.offsets.get(symbol)
        if offset is None:
            offset = self.offsets[symbol] = len(self.offsets) << 64
        return offset

    def key(self, symbol: str, trade_id: int) -> Hashable:
        """The stored key of one trade."""
        return self.offset(symbol) + trade_id if 0 <= trade_id < ID_LIMIT else (symbol, trade_id)

    def seen(self, key: Hashable) -> bool:
        """``key`` is ``(symbol, trade_id)``, as :class:`mdi.backfill.Backfiller` spells it."""
        if isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], str) and type(key[1]) is int:
            key = self.key(key[0], key[1])
        return RecentIds.seen(self, key)

    seen_key = RecentIds.seen  # a key made by :meth:`key` (or inline from :meth:`offset`)
