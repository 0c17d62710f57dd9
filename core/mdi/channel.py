"""Bounded batch channels: the only queues in mdi.

Items are *batches* (lists of events) because a task switch per event would cost more than
everything else on the hot path; capacity is counted in *events*, so memory is bounded whatever
the batch sizes. A batch larger than the capacity is accepted only into an empty channel (else it
could never be sent). Single event loop only (asyncio or trio through anyio), no threads.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

import anyio

T = TypeVar("T")


class Doorbell:
    """Wakes one waiting consumer that serves several channels (the router)."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    def ring(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()
        self._event = anyio.Event()


class ChannelClosed(Exception):
    """Raised by put/try_put after :meth:`BatchChannel.close`."""


class BatchChannel(Generic[T]):
    """A bounded FIFO of batches with blocking ``put`` and non-blocking ``try_put``."""

    def __init__(self, name: str, capacity: int, doorbell: Doorbell | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"channel {name!r}: capacity must be >= 1, got {capacity}")
        self.name = name
        self.capacity = capacity
        self._items: deque[list[T]] = deque()
        self._size = 0
        self._closed = False
        self._doorbell = doorbell or Doorbell()
        self._space = anyio.Event()

    @property
    def size(self) -> int:
        """Events currently queued."""
        return self._size

    @property
    def closed(self) -> bool:
        return self._closed

    def try_put(self, batch: list[T]) -> bool:
        """Queue ``batch`` if it fits; False (nothing queued) when full. Never waits."""
        if self._closed:
            raise ChannelClosed(self.name)
        n = len(batch)
        if self._size and self._size + n > self.capacity:
            return False
        self._items.append(batch)
        self._size += n
        self._doorbell.ring()
        return True

    async def put(self, batch: list[T]) -> None:
        """Queue ``batch``, waiting for room: this is how back-pressure reaches producers."""
        # Yield first (fairness, cancellation) so that once the batch is queued we return without
        # another await: a cancelled put has then never queued anything, a completed one has.
        await anyio.lowlevel.checkpoint()
        while not self.try_put(batch):
            await self._space.wait()

    def get_nowait(self, max_events: int) -> list[T]:
        """Pop whole batches up to ``max_events`` (at least one batch if any), concatenated."""
        items = self._items
        if not items:
            return []
        out = items.popleft()
        taken = len(out)
        if items and taken < max_events:
            out = list(out)
            while items and taken < max_events:
                nxt = items.popleft()
                out.extend(nxt)
                taken += len(nxt)
        self._size -= taken
        self._space.set()
        self._space = anyio.Event()
        return out

    async def get(self, max_events: int = 65536) -> list[T] | None:
        """Wait for events; ``None`` once the channel is closed and drained."""
        while True:
            batch = self.get_nowait(max_events)
            if batch:
                return batch
            if self._closed:
                return None
            await self._doorbell.wait()

    def close(self) -> None:
        """No more puts; consumers drain what is queued and then get ``None``."""
        self._closed = True
        self._doorbell.ring()
        self._space.set()

    def __aiter__(self) -> BatchChannel[T]:
        return self

    async def __anext__(self) -> list[T]:
        batch = await self.get()
        if batch is None:
            raise StopAsyncIteration
        return batch
