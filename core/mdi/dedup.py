"""Bounded memory of recently seen ids, to drop trades replayed after a reconnect."""

from __future__ import annotations

from collections import OrderedDict
from typing import Hashable


class RecentIds:
    """Remembers the last ``capacity`` ids; ``seen(x)`` is True if x was added before."""

    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self._ids: OrderedDict[Hashable, None] = OrderedDict()

    def seen(self, key: Hashable) -> bool:
        """Record ``key``; True when it was already recorded (a duplicate)."""
        ids = self._ids
        if key in ids:
            return True
        ids[key] = None
        if len(ids) > self.capacity:
            ids.popitem(last=False)
        return False

    def __len__(self) -> int:
        return len(self._ids)
