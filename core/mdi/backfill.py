"""Gap repair: fetch the trades a WebSocket missed from the venue's public REST API.

A connector that numbers its trades (Kraken, Coinbase: integer trade ids per symbol) reports
each hole - ids ``after_id + 1 .. before_id - 1`` - to its :class:`Backfiller` instead of writing
the ``gap`` row at once. The backfiller runs beside the connection, in the task group that
:meth:`mdi.connector.WsConnector.run` owns (no task of its own), and for each hole:

1. asks the venue's :class:`RestSource` for pages of trades around the hole, paced to at most one
   request per ``backfill_min_interval`` (the venue's documented public limit), each request
   retried on 429, 5xx and transport errors with capped exponential backoff;
2. emits the trades inside the hole as :class:`~mdi.events.Trade` with ``source="rest"``, each id
   once: the connector's :class:`~mdi.dedup.RecentIds` is shared with the WebSocket session, so a
   trade the stream also delivers is dropped on whichever side comes second;
3. writes the ``gap`` row with the outcome (``repaired``, ``partly_repaired``, ``unrepairable``)
   and why, so a hole left in the lake always says why it is there.

Holes wait in a bounded queue (``backfill_max_pending``); one that finds it full is written at
once as ``unrepairable``/``queue_full``, never dropped silently.
"""

from __future__ import annotations

import ipaddress
import math
import random
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

import anyio
import httpx
import msgspec
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from mdi.components import ConnectorContext
from mdi.connector import ConnectorConfigBase
from mdi.dedup import RecentIds
from mdi.events import EventBase, Repair, SequenceGap, Trade
from mdi.logutil import RateLimitedLog
from mdi.stats import VenueStats

NS = 1_000_000_000
SHUTDOWN_EMIT_S = 1.0  # how long a stopping backfiller may wait to write its unfinished gap rows


class BackfillConfigBase(ConnectorConfigBase, forbid_unknown_fields=True, kw_only=True):
    """Settings of a connector that can repair trade gaps over REST; venue configs subclass it.

    ``rest_url``: the venue's public REST base URL. ``backfill``: repair gaps (on by default).
    ``backfill_max_lookback``: holes whose last known trade is older than this many seconds are
    not requested (``beyond_reach``). ``backfill_max_requests``: REST requests one hole may use.
    ``backfill_min_interval``: seconds between two requests of this connector (pacing).
    ``backfill_timeout``: seconds per request. ``backfill_retries``: retries of one request on
    429/5xx/transport errors, with backoff doubling up to ``backfill_backoff_max`` seconds.
    ``backfill_max_pending``: holes waiting for repair; more are written as ``queue_full``.
    """

    rest_url: str = ""
    backfill: bool = True
    backfill_max_lookback: float = 3600.0
    backfill_max_requests: int = 10
    backfill_min_interval: float = 1.0
    backfill_timeout: float = 10.0
    backfill_retries: int = 3
    backfill_backoff_max: float = 30.0
    backfill_max_pending: int = 100

    def check_backfill(self) -> None:
        """Reject settings that could only fail at run time (venue ``__post_init__`` calls it)."""
        if self.backfill and not self.rest_url.startswith(("http://", "https://")):
            raise ValueError(f"rest_url {self.rest_url!r} must start with http:// or https:// (or set backfill = false)")
        for name in ("backfill_max_lookback", "backfill_timeout", "backfill_backoff_max"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.backfill_min_interval < 0:
            raise ValueError("backfill_min_interval must be >= 0")
        for name in ("backfill_max_requests", "backfill_max_pending"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.backfill_retries < 0:
            raise ValueError("backfill_retries must be >= 0")


@dataclass(frozen=True)
class Hole:
    """Trade ids ``after_id + 1 .. before_id - 1`` of ``symbol`` never arrived.

    ``after_ns``/``before_ns`` are the venue times of the trades on either side (REST APIs page
    by time); ``gap`` is the detection row, completed with the outcome when the repair ends.
    """

    symbol: str
    after_id: int
    before_id: int
    after_ns: int
    before_ns: int
    gap: SequenceGap

    @property
    def size(self) -> int:
        return self.before_id - self.after_id - 1

    def contains(self, trade_id: int) -> bool:
        return self.after_id < trade_id < self.before_id


@dataclass
class Page:
    """One REST answer: the trades it held and where to ask next (None: nothing more to ask)."""

    trades: list[Trade]
    cursor: object | None


class RateLimited(Exception):
    """The venue refused the request for its rate limit (HTTP 429 or its own error code)."""

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class VenueError(Exception):
    """The venue answered with an error; ``retryable`` for 5xx/busy, not for a bad request."""

    def __init__(self, detail: str, retryable: bool = False) -> None:
        super().__init__(detail)
        self.retryable = retryable


class RestSource(Protocol):
    """What a venue plugin supplies: how to ask for a hole's trades and how to read the answer."""

    def first_cursor(self, hole: Hole) -> object:
        """The first request's position (a ``since`` value, a time window...)."""

    def request(self, hole: Hole, cursor: object) -> tuple[str, dict[str, str]]:
        """Path (relative to ``rest_url``) and query parameters for the request at ``cursor``."""

    def parse(self, hole: Hole, cursor: object, status: int, body: bytes, recv_ns: int) -> Page:
        """Trades (``source="rest"``) and the next cursor; raise RateLimited or VenueError."""


def retry_after_s(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds when the venue sent a number, else None."""
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


@dataclass
class Repairing:
    """One hole under repair: what was found so far and how many requests it used."""

    hole: Hole
    found: set[int] = field(default_factory=set)
    lowest_returned: int | None = None
    emitted: int = 0
    requests: int = 0


class Backfiller:
    """The repair worker of one connector (see the module docstring)."""

    def __init__(self, config: BackfillConfigBase, source: RestSource, recent: RecentIds,
                 dedup_key: type[int] | type[str] = int) -> None:
        self.config = config
        self.source = source
        self.recent = recent
        self.dedup_key = dedup_key  # how the WebSocket session spells ids in ``recent``
        self.active = False
        self._send: MemoryObjectSendStream[Hole]
        self._receive: MemoryObjectReceiveStream[Hole]
        self._send, self._receive = anyio.create_memory_object_stream[Hole](config.backfill_max_pending)
        self._next_request_at = 0.0
        self._current: Repairing | None = None
        self._stats: VenueStats | None = None
        self._log: RateLimitedLog | None = None
        self.refused = ""  # why this connector may not use its rest_url (see check_target)

    def check_target(self, stream_url: str) -> str:
        """Refuse a remote ``rest_url`` for a stream from this machine (a simulator): its trade
        ids are not the venue's, so the live API would fill its holes with foreign trades, and
        tests must not send traffic off the machine. Returns the reason ("" when allowed)."""
        if is_loopback(stream_url) and not is_loopback(self.config.rest_url):
            self.refused = (f"url {stream_url} is on this machine but rest_url {self.config.rest_url} is not; "
                            "point rest_url at the simulator (sim.rest_url)")
        else:
            self.refused = ""
        return self.refused

    # ----- called by the session (synchronously, while parsing a frame) ----------------------
    def report(self, hole: Hole, now_ns: int, out: list[EventBase]) -> None:
        """Queue ``hole`` for repair, or write its gap row now when it cannot be repaired."""
        cfg = self.config
        if not cfg.backfill:
            out.append(self._outcome(hole.gap, "not_attempted", "backfill_off", "backfill = false", 0, hole.size))
        elif self.refused:
            out.append(self._outcome(hole.gap, "not_attempted", "rest_url_not_local", self.refused, 0, hole.size))
        elif not self.active:
            out.append(self._outcome(hole.gap, "not_attempted", "no_repair_worker", "no repair worker running", 0, hole.size))
        elif now_ns - hole.after_ns > cfg.backfill_max_lookback * NS:
            self._count("unrepairable")
            detail = f"last trade before the hole is older than backfill_max_lookback ({cfg.backfill_max_lookback:g}s)"
            out.append(self._outcome(hole.gap, "unrepairable", "beyond_reach", detail, 0, hole.size))
        else:
            try:
                self._send.send_nowait(hole)
            except anyio.WouldBlock:
                self._count("unrepairable")
                detail = f"{cfg.backfill_max_pending} holes already waiting for repair"
                out.append(self._outcome(hole.gap, "unrepairable", "queue_full", detail, 0, hole.size))
                return
            if self._stats is not None:
                self._stats.repairs_queued += 1

    # ----- the worker ------------------------------------------------------------------------
    async def run(self, ctx: ConnectorContext, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Repair holes one at a time until cancelled (runs in the connector's task group)."""
        self._stats = ctx.stats
        self._log = RateLimitedLog(ctx.log)  # a venue that keeps failing must not flood the log
        # The HTTP client (~7 MB with its TLS context) is made at the first hole, not at start:
        # most connections never have one, and an idle recorder should not carry it.
        client: httpx.AsyncClient | None = None
        try:
            self.active = True
            task_status.started()
            async for hole in self._receive:
                ctx.stats.repairs_queued = max(0, ctx.stats.repairs_queued - 1)
                if client is None:
                    client = httpx.AsyncClient(base_url=self.config.rest_url, timeout=self.config.backfill_timeout,
                                               headers={"User-Agent": "mdi-backfill"})
                await self._repair(client, ctx, hole)
        finally:
            self.active = False
            with anyio.CancelScope(shield=True):
                if client is not None:
                    await client.aclose()
                await self._write_unfinished(ctx)

    async def _repair(self, client: httpx.AsyncClient, ctx: ConnectorContext, hole: Hole) -> None:
        work = self._current = Repairing(hole)
        ctx.stats.repairs_in_progress += 1
        try:
            try:
                reason, detail = await self._fetch_all(client, ctx, work)
            except Exception as exc:  # a bug here must not take the connection down: the row says so
                reason, detail = "venue_error", f"{type(exc).__name__}: {exc}"
                ctx.log.exception("gap repair failed", extra={"venue": ctx.name, "symbol": hole.symbol})
        finally:
            ctx.stats.repairs_in_progress -= 1
        await ctx.emit([self._finish(work, reason, detail)])
        self._current = None  # only now: a stop before this line writes the row as "shutdown"

    async def _fetch_all(self, client: httpx.AsyncClient, ctx: ConnectorContext, work: Repairing) -> tuple[str, str]:
        """Ask page after page until the hole is full, or say why it stays open."""
        hole, cfg = work.hole, self.config
        cursor: object | None = self.source.first_cursor(hole)
        while len(work.found) < hole.size:
            if cursor is None:
                return self._exhausted(work)
            if work.requests >= cfg.backfill_max_requests:
                return "request_budget", f"backfill_max_requests ({cfg.backfill_max_requests}) spent"
            try:
                page = await self._request(client, ctx, work, cursor)
            except RateLimited as exc:
                return "rate_limited", str(exc)
            except VenueError as exc:
                return "venue_error", str(exc)
            await self._take(ctx, work, page.trades)
            cursor = page.cursor
        return "", ""

    def _exhausted(self, work: Repairing) -> tuple[str, str]:
        """No more pages: the API's history starts after the missing ids, or lacks them."""
        hole = work.hole
        lowest_missing = next(i for i in range(hole.after_id + 1, hole.before_id) if i not in work.found)
        if work.lowest_returned is None or work.lowest_returned > lowest_missing:
            return "beyond_reach", f"the API returned nothing as old as trade id {lowest_missing}"
        return "not_in_venue_history", "the API's pages covered the hole but lack these ids"

    async def _request(self, client: httpx.AsyncClient, ctx: ConnectorContext, work: Repairing, cursor: object) -> Page:
        """One logical request: paced, retried with capped backoff, parsed by the venue."""
        cfg = self.config
        path, params = self.source.request(work.hole, cursor)
        attempt = 0
        while True:
            await self._pace()
            work.requests += 1
            ctx.stats.backfill_requests += 1
            try:
                response = await client.get(path, params=params)
                if response.status_code == 429:
                    raise RateLimited(f"HTTP 429 from {path}", retry_after_s(response))
                if response.status_code >= 500:
                    raise VenueError(f"HTTP {response.status_code} from {path}", retryable=True)
                return self.source.parse(work.hole, cursor, response.status_code, response.content, ctx.clock())
            except (RateLimited, VenueError, httpx.HTTPError, msgspec.DecodeError) as exc:
                retryable = isinstance(exc, (RateLimited, httpx.HTTPError)) or getattr(exc, "retryable", False)
                if isinstance(exc, msgspec.DecodeError):
                    raise VenueError(f"unreadable answer from {path}: {exc}") from exc
                if not retryable or attempt >= cfg.backfill_retries:
                    if isinstance(exc, httpx.HTTPError):
                        raise VenueError(f"{type(exc).__name__} on {path}: {exc}") from exc
                    raise
                delay = self._backoff(attempt, getattr(exc, "retry_after", None))
                attempt += 1
                if self._log is not None:
                    self._log.warning("backfill-retry", "%s: gap repair request failed (%s); retrying in %.3fs",
                                      ctx.name, str(exc) or type(exc).__name__, delay)
                await anyio.sleep(delay)

    async def _pace(self) -> None:
        """At most one request per ``backfill_min_interval`` for this connector."""
        now = anyio.current_time()
        if now < self._next_request_at:
            await anyio.sleep(self._next_request_at - now)
        self._next_request_at = max(now, self._next_request_at) + self.config.backfill_min_interval

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cfg = self.config
        cap = min(cfg.backfill_backoff_max, max(cfg.backfill_min_interval, 0.05) * (2 ** attempt))
        delay = random.uniform(cap / 2, cap)
        return min(cfg.backfill_backoff_max, max(delay, retry_after or 0.0))

    async def _take(self, ctx: ConnectorContext, work: Repairing, trades: list[Trade]) -> None:
        """Emit the page's trades that fall in the hole and were not seen yet, oldest first."""
        hole = work.hole
        fresh: list[Trade] = []
        for trade in sorted(trades, key=lambda t: int(t.trade_id)):
            number = int(trade.trade_id)
            if work.lowest_returned is None or number < work.lowest_returned:
                work.lowest_returned = number
            if not hole.contains(number) or number in work.found:
                continue
            work.found.add(number)
            if self.recent.seen((hole.symbol, self.dedup_key(trade.trade_id))):
                ctx.stats.duplicates += 1  # the stream delivered it meanwhile (a snapshot)
                continue
            fresh.append(trade)
        if fresh:
            work.emitted += len(fresh)
            ctx.stats.backfilled += len(fresh)
            await ctx.emit(list(fresh))

    # ----- outcomes ----------------------------------------------------------------------------
    def _finish(self, work: Repairing, reason: str, detail: str) -> SequenceGap:
        missing = work.hole.size - len(work.found)
        repair: Repair
        if missing == 0:
            repair, reason, detail = "repaired", "", ""
        elif work.found:
            repair = "partly_repaired"
        else:
            repair = "unrepairable"
        self._count(repair)
        detail = f"{detail}; {work.requests} request(s)" if detail else detail
        return self._outcome(work.hole.gap, repair, reason, detail, work.emitted, missing)

    async def _write_unfinished(self, ctx: ConnectorContext) -> None:
        """On shutdown, holes still open get their rows (``shutdown``), within a short bound."""
        rows: list[EventBase] = []
        if self._current is not None:
            rows.append(self._finish(self._current, "shutdown", "service stopped during the repair"))
            self._current = None
        while True:
            try:
                hole = self._receive.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                break
            self._count("unrepairable")
            rows.append(self._outcome(hole.gap, "unrepairable", "shutdown", "service stopped before the repair", 0, hole.size))
        ctx.stats.repairs_queued = 0
        if rows:
            with anyio.move_on_after(SHUTDOWN_EMIT_S):
                await ctx.emit(rows)

    def _count(self, repair: str) -> None:
        stats = self._stats
        if stats is None:
            return
        if repair == "repaired":
            stats.gaps_repaired += 1
        elif repair == "partly_repaired":
            stats.gaps_partly_repaired += 1
        elif repair == "unrepairable":
            stats.gaps_unrepaired += 1

    @staticmethod
    def _outcome(gap: SequenceGap, repair: Repair, reason: str, detail: str, backfilled: int, missing: int) -> SequenceGap:
        return msgspec.structs.replace(gap, repair=repair, repair_reason=reason, repair_detail=detail,
                                       backfilled=backfilled, missing=missing)


class TradeIdGaps:
    """Per-symbol last trade id and time; a jump is a :class:`Hole` for the backfiller.

    Shared by connectors whose venue numbers trades consecutively per symbol. State outlives a
    connection (it lives on the connector), so a hole across a reconnect is found too.
    """

    def __init__(self, venue: str, channel: str = "trade") -> None:
        self.venue = venue
        self.channel = channel
        self.last_id: dict[str, int] = {}
        self.last_ns: dict[str, int] = {}

    def observe(self, symbol: str, trade_id: int, ts_ns: int, recv_ns: int) -> Hole | None:
        """Record one trade; the hole before it when ids were skipped, else None."""
        last = self.last_id.get(symbol)
        hole: Hole | None = None
        if last is not None and trade_id > last + 1:
            gap = SequenceGap(venue=self.venue, symbol=symbol, ts_recv=recv_ns, channel=self.channel,
                              expected=last + 1, received=trade_id)
            hole = Hole(symbol, last, trade_id, self.last_ns.get(symbol, ts_ns), ts_ns, gap)
        if last is None or trade_id > last:
            self.last_id[symbol] = trade_id
            self.last_ns[symbol] = ts_ns
        return hole


def is_loopback(url: str) -> bool:
    """True for URLs whose host is ``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ceil_seconds(ns: int) -> int:
    return math.ceil(ns / NS)


__all__ = [
    "BackfillConfigBase",
    "Backfiller",
    "Hole",
    "Page",
    "RateLimited",
    "RestSource",
    "TradeIdGaps",
    "VenueError",
    "ceil_seconds",
    "is_loopback",
    "retry_after_s",
]
