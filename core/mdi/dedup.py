"""Bounded memory of recently seen ids, to drop trades replayed after a reconnect."""

from __future__ import annotations

from collections import deque
from typing import Hashable


class RecentIds:
    """Remembers the last ``capacity`` ids; ``seen(x)`` is True if x was added before.

    A set for membership and a deque for age: cheaper per trade than an ``OrderedDict``.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self._ids: set[Hashable] = set()
        self._order: deque[Hashable] = deque()

    def seen(self, key: Hashable) -> bool:
        """Record ``key``; True when it was already recorded (a duplicate)."""
        ids = self._ids
        if key in ids:
            return True
        ids.add(key)
        order = self._order
        order.append(key)
        if len(order) > self.capacity:
            ids.discard(order.popleft())
        return False

    def __len__(self) -> int:
        return len(self._ids)
