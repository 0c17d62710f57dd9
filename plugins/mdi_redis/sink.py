"""The Redis sink: a coalescing consume loop and a timed write loop in one coroutine.

The router hands this sink batches with ``try_put`` and drops them when its channel is full, so
taking a batch must cost almost nothing: :meth:`RedisSink.run` only files each event under its key
(newest wins) and, every ``flush_interval``, writes what changed in one pipelined round trip. The
two loops are one coroutine (``inbox.get()`` bounded by the time to the next flush), because the
core owns every task group.

Redis is a cache, not the lake: :meth:`RedisSink.open` never fails or waits on it, and while it is
unreachable the sink reports ``degraded`` with the error, keeps the latest value per key (bounded),
retries with capped exponential backoff, and writes those latest values once Redis is back.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import anyio.lowlevel
import msgspec

from mdi.channel import BatchChannel
from mdi.components import SinkContext
from mdi.events import EventBase
from mdi.logutil import RateLimitedLog
from mdi.stats import SinkStats
from mdi_redis.config import RedisSinkConfig
from mdi_redis.keys import Coalescer, key_prefix, key_rules
from mdi_redis.writer import WRITE_ERRORS, Backoff, RedisWriter, Written, describe, redact

# Largest batch taken from the inbox at once: big enough to drain a burst in one step, small
# enough that one absorb pass stays well under a flush interval.
MAX_TAKE = 65_536

_health_encoder = msgspec.json.Encoder(decimal_format="string", enc_hook=str)


class RedisSink:
    """Best-effort hot cache; see the module docstring and docs/redis.md."""

    def __init__(self, config: RedisSinkConfig) -> None:
        self.config = config
        self.writer = RedisWriter(config)
        self.buffer = Coalescer(key_rules(config.prefix, config.latest_trade), config.window_len, config.max_keys)
        self.backoff = Backoff(config.backoff_initial, config.backoff_max)
        self.known: dict[str, EventBase] = {}
        self._ctx: SinkContext | None = None
        self._rlog: RateLimitedLog | None = None
        self._health_due = False
        self._next_health = 0.0

    # ----- Sink protocol ---------------------------------------------------------------
    async def open(self, ctx: SinkContext) -> int | None:
        """Build the client and try one PING within ``connect_timeout``; an unreachable Redis
        only marks the sink degraded (``run`` keeps retrying), it never fails start-up.
        Returns None: Redis is not the lake, so it knows nothing about persisted seqs."""
        self._ctx = ctx
        self._rlog = RateLimitedLog(ctx.log)
        if self.config.cluster:  # the instance is known only now: key names carry it
            prefix = key_prefix(self.config.prefix, ctx.instance, cluster=True)
            self.buffer.rules = key_rules(prefix, self.config.latest_trade)
            self.writer.use_prefix(prefix)
        self.writer.connect()
        self._next_health = time.monotonic()
        try:
            await self.writer.ping(timeout=self.config.connect_timeout)
        except WRITE_ERRORS as exc:
            self._failed(exc)
        else:
            self._set_ok()
            ctx.log.info("redis sink connected", extra={"url": redact(self.config.url)})
        return None

    async def run(self, inbox: BatchChannel[EventBase]) -> None:
        """Coalesce and flush until ``inbox`` is closed and drained; then one last bounded flush."""
        try:
            await self._consume(inbox)
        finally:
            self._health_due = self.config.health_interval > 0
            with anyio.move_on_after(self.config.final_flush_timeout, shield=True):
                await self._flush(final=True)
            with anyio.move_on_after(self.config.command_timeout, shield=True):
                await self.writer.aclose()

    # ----- the loop --------------------------------------------------------------------
    async def _consume(self, inbox: BatchChannel[EventBase]) -> None:
        interval = self.config.flush_interval
        next_flush = time.monotonic() + interval
        while True:
            wait = next_flush - time.monotonic()
            if wait <= 0:
                await self._tick()
                next_flush = time.monotonic() + interval
                continue
            batch: list[EventBase] | None = inbox.get_nowait(MAX_TAKE)
            if not batch:
                if inbox.closed:
                    return
                with anyio.move_on_after(wait):
                    batch = await inbox.get(MAX_TAKE)
                if batch is None:
                    return
            if batch:
                self._absorb(batch)

    def _absorb(self, batch: list[EventBase]) -> None:
        result = self.buffer.absorb(batch)
        counters = self.stats.counters
        counters["events_in"] += result.events
        if result.ignored:
            counters["ignored"] += result.ignored
        if result.coalesced:
            counters["coalesced"] += result.coalesced
        if result.dropped:
            counters["dropped"] += result.dropped

    async def _tick(self) -> None:
        now = time.monotonic()
        interval = self.config.health_interval
        if interval and now >= self._next_health:
            self._health_due = True
            self._next_health = now + interval
        await self._flush()
        self.stats.queue_depth = len(self.buffer.latest) + len(self.buffer.window)
        self.stats.gauges["known_keys"] = len(self.known)
        await anyio.lowlevel.checkpoint()

    async def _flush(self, final: bool = False) -> None:
        """Write what is due in one round trip. While Redis is unreachable, try only when the
        backoff allows (the final flush tries once regardless), with a PING if nothing is due,
        so recovery shows even when idle. Nothing due and Redis reachable: no I/O at all."""
        unreachable = self.backoff.failures > 0
        if not (self.buffer or self._health_due or unreachable):
            return
        if not final and not self.backoff.ready(time.monotonic()):
            return
        latest = self._with_resync() if unreachable else self.buffer.latest
        due = bool(latest or self.buffer.window or self._health_due)
        if final and not due:
            return
        health = self._health_record() if self._health_due else None
        try:
            if due:
                written = await self.writer.write(latest, self.buffer.window, health)
            else:
                await self.writer.ping()
                written = Written()
        except WRITE_ERRORS as exc:
            self._failed(exc)
            await self.writer.reset()
            return
        recovered = health is not None and self.stats.state != "ok"
        self._written(written, resynced=len(latest) - len(self.buffer.latest))
        if recovered:
            await self._correct_health(final)

    async def _correct_health(self, final: bool) -> None:
        """The record just written was built before the write that carried it succeeded, so it
        still says ``degraded``: write the recovered state now on the final flush (nothing comes
        after it), else with the next one."""
        if not final:
            self._health_due = True
            return
        try:
            await self.writer.write({}, (), self._health_record())
        except WRITE_ERRORS as exc:
            self._failed(exc)

    def _with_resync(self) -> dict[str, EventBase]:
        """After an outage Redis may have lost its data (restart without persistence, failover
        to an empty replica), so the first write after it rewrites every key we know, not only
        those that changed meanwhile; newer pending values win. With ``key_ttl``, values older
        than the TTL are forgotten instead: rewriting them would make stale data look live."""
        if self.config.key_ttl:
            cutoff = self.ctx.clock() - int(self.config.key_ttl * 1e9)
            self.known = {k: e for k, e in self.known.items() if e.ts_recv >= cutoff}
        return {**self.known, **self.buffer.latest}

    # ----- outcomes --------------------------------------------------------------------
    def _written(self, written: Written, resynced: int = 0) -> None:
        stats, buffer = self.stats, self.buffer
        now = self.ctx.clock()
        stats.latency.observe_ns(now - e.ts_recv for e in buffer.latest.values())
        stats.latency.observe_ns(now - e.ts_recv for e in buffer.window)
        self._remember(buffer.latest)
        buffer.clear()
        self._health_due = False
        counters = stats.counters
        counters["flushes"] += 1
        counters["writes"] += written.sets
        counters["stream_adds"] += written.stream_adds
        counters["publishes"] += written.publishes
        counters["health_writes"] += written.health
        counters["commands"] += written.commands
        if resynced:
            counters["resynced"] += resynced
        if written.command_errors:
            self._rejected(written.command_errors)
        else:
            self._set_ok()

    def _remember(self, latest: dict[str, EventBase]) -> None:
        """Keep the last written value per key for :meth:`_with_resync`, at most ``max_keys``
        (the oldest-inserted keys go first; real key counts are in the tens)."""
        known = self.known
        known.update(latest)
        while len(known) > self.config.max_keys:
            del known[next(iter(known))]

    def _failed(self, exc: BaseException) -> None:
        stats = self.stats
        delay = self.backoff.failed(time.monotonic())
        stats.counters["errors"] += 1
        first = self.backoff.failures == 1
        stats.state = "degraded"
        stats.detail = f"redis unreachable at {redact(self.config.url)}: {describe(exc)}"
        extra = {"error": describe(exc), "retry_in_s": delay, "failures": self.backoff.failures,
                 "pending_keys": len(self.buffer.latest)}
        if first:
            self.ctx.log.warning("redis sink degraded; retrying with backoff", extra=extra)
        else:
            self.rlog.warning("redis-down", "redis still unreachable: %s", describe(exc))

    def _rejected(self, errors: list[str]) -> None:
        """Redis answered but refused some commands (wrong key type, OOM): retrying the same
        commands cannot help, so they are counted and dropped, and the state says why."""
        self.stats.counters["command_errors"] += len(errors)
        self.stats.state = "degraded"
        self.stats.detail = f"redis rejected {len(errors)} command(s): {errors[0]}"
        self.rlog.warning("redis-rejected", "redis rejected commands: %s", errors[0])

    def _set_ok(self) -> None:
        stats = self.stats
        if stats.state != "ok":
            if self.backoff.failures:
                stats.counters["reconnects"] += 1
                self.ctx.log.info("redis sink recovered", extra={"failures": self.backoff.failures})
            stats.state = "ok"
            stats.detail = ""
        self.backoff.reset()

    def _health_record(self) -> bytes:
        """``ctx.health()`` (the service's /health view) plus this sink's own state, as JSON."""
        ctx, stats = self.ctx, self.stats
        try:
            service: Any = ctx.health()
        except Exception as exc:  # noqa: BLE001 - a broken health callback must not stop writes
            service = {"error": describe(exc)}
        sink = {"name": stats.name, "state": stats.state, "detail": stats.detail,
                "counters": dict(stats.counters)}
        return _health_encoder.encode({"ts": ctx.clock(), "service": service, "sink": sink})

    # ----- accessors -------------------------------------------------------------------
    @property
    def ctx(self) -> SinkContext:
        if self._ctx is None:
            raise RuntimeError("RedisSink.open() must be awaited before run()")
        return self._ctx

    @property
    def stats(self) -> SinkStats:
        return self.ctx.stats

    @property
    def rlog(self) -> RateLimitedLog:
        assert self._rlog is not None
        return self._rlog
