"""Client-side pacing: Binance disconnects a connection that sends more than 10 messages in a
second (SUBSCRIBE requests and pong frames alike), so requests wait in a queue and leave at
most ``limit`` per sliding window.

The connector loop sends what was released after its next receive, up to one ``tick`` later,
so the window is ``1 s + tick``: two releases that far apart can never land in the same second
on the wire, however the loop delays them.
"""

from __future__ import annotations

from collections import deque

NS = 1_000_000_000


class RequestPacer:
    def __init__(self, limit: int, window_s: float = 1.0) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit
        self.window_ns = int(window_s * NS)
        self.queue: deque[str] = deque()
        self._sent_at: deque[int] = deque()

    def add(self, message: str) -> None:
        self.queue.append(message)

    def release(self, now_ns: int) -> list[str]:
        """The queued messages that may be sent at ``now_ns`` (recorded as sent)."""
        sent_at = self._sent_at
        while sent_at and now_ns - sent_at[0] >= self.window_ns:
            sent_at.popleft()
        out: list[str] = []
        while self.queue and len(sent_at) < self.limit:
            out.append(self.queue.popleft())
            sent_at.append(now_ns)
        return out
