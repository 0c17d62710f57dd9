"""The virtual clock pipelines tick on during replay.

It stands still until the replay scheduler advances it to the next tick boundary, which it does
only once every event recorded before that boundary has reached the pipelines, and holds the
connectors until the ticks' derived events are routed. So a bucket sees exactly the events
received before its boundary, whatever the replay speed, and sequence numbers come out the same
on every replay.
"""

from __future__ import annotations

from types import TracebackType
from typing import Callable

import anyio


class _Timer:
    """A cancel scope that ends when the virtual clock reaches ``due``."""

    def __init__(self, clock: VirtualClock, name: str, due: int) -> None:
        self.clock, self.name, self.due = clock, name, due
        self.scope = anyio.CancelScope()

    def __enter__(self) -> anyio.CancelScope:
        self.clock.parked[self.name] = self
        self.clock.tickers.add(self.name)
        if self.due <= self.clock.now:
            self.scope.cancel()
        return self.scope.__enter__()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> bool:
        self.clock.parked.pop(self.name, None)
        return bool(self.scope.__exit__(et, ev, tb))


class VirtualClock:
    """``clock()`` for pipelines and sinks; ``timer_for(name)`` is a pipeline's ``ctx.timer``."""

    def __init__(self, start_ns: int) -> None:
        self.now = start_ns
        self.parked: dict[str, _Timer] = {}
        self.tickers: set[str] = set()

    def __call__(self) -> int:
        return self.now

    def timer_for(self, name: str) -> Callable[[int, int], _Timer]:
        def timer(due_ns: int, now_ns: int) -> _Timer:
            return _Timer(self, name, due_ns)

        return timer

    def next_due(self) -> int | None:
        return min((t.due for t in self.parked.values()), default=None)

    def advance(self, t_ns: int) -> None:
        self.now = max(self.now, t_ns)
        for timer in list(self.parked.values()):
            if timer.due <= self.now:
                timer.scope.cancel()

    def all_parked_after(self, t_ns: int) -> bool:
        """Every pipeline that ticks is waiting for a boundary later than ``t_ns``."""
        return all(name in self.parked and self.parked[name].due > t_ns for name in self.tickers)
