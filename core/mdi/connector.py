"""The reconnecting WebSocket loop every venue connector shares.

A venue plugin supplies a :class:`VenueSession` (one per connection: protocol state, parsing,
acknowledgements) and inherits the rest from :class:`WsConnector`: capped exponential backoff with
jitter, resubscription after every reconnect, acknowledgement deadlines, staleness (no *data* for
``stale_after`` seconds; heartbeats do not count), a maximum connection age, and counted,
rate-limited handling of malformed frames. Frames are parsed synchronously in bursts; the only
awaits per burst are the receive and one ``emit`` of all events parsed from it.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import anyio
import msgspec

from mdi.components import ConnectorContext
from mdi.config import AtLeastOne, NonNegative, Positive
from mdi.events import RAW_LIMIT, ConnectionStatus, ConnState, EventBase, Rejected
from mdi.logutil import RateLimitedLog
from mdi.stats import VenueState
from mdi.transport import Frame, TransportError, WsConnection

if TYPE_CHECKING:
    from mdi.backfill import Backfiller

NS = 1_000_000_000
# On cancellation (shutdown), events already parsed still go to the router: it keeps draining
# ingress until every connector has returned. Bounded, so a wedged durable sink cannot hold the
# shutdown forever; what is left after it is counted (``undelivered``) and logged.
DELIVER_GRACE_S = 10.0


class ConnectorConfigBase(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Settings every WebSocket connector has; venue configs subclass this."""

    url: str = ""
    transport: str = "auto"
    stale_after: Positive = 30.0
    open_timeout: Positive = 10.0
    ack_timeout: Positive = 10.0
    backoff_initial: Positive = 0.5
    backoff_max: Positive = 30.0
    max_connection_age: NonNegative = 0.0  # seconds; 0 = no limit
    dedup_capacity: AtLeastOne = 100_000


WS_SCHEMES = ("ws://", "wss://")


def check_connector_config(cfg: Any) -> str:
    """What the core refuses in any connector's config before it runs (``""`` when fine): an
    empty or non-WebSocket ``url`` would otherwise be retried forever, and a ``backoff_max``
    below ``backoff_initial`` would make the schedule meaningless."""
    url = getattr(cfg, "url", None)
    if isinstance(url, str) and not url.startswith(WS_SCHEMES):
        return f"Invalid url {url!r}: expected a ws:// or wss:// URL - at `url`"
    initial, cap = getattr(cfg, "backoff_initial", 0), getattr(cfg, "backoff_max", 0)
    if isinstance(initial, (int, float)) and isinstance(cap, (int, float)) and cap < initial:
        return f"backoff_max ({cap}) must be >= backoff_initial ({initial}) - at `backoff_max`"
    return ""


class MalformedFrame(ValueError):
    """A frame that cannot be understood; counted and skipped, the connection stays up."""


class InvalidFrame(ValueError):
    """A frame whose values were refused by :mod:`mdi.validate` as a whole (raised by
    ``on_frame``): counted by ``reason``, kept as a :class:`Rejected` event, connection stays up."""

    def __init__(self, reason: str, field: str = "", value: str = "", symbol: str = "*") -> None:
        super().__init__(f"{reason}: {field}={value}")
        self.reason, self.field, self.value, self.symbol = reason, field, value, symbol


class SessionError(Exception):
    """The session must end (reconnect): stale data, missing acks, a fatal venue error."""


class StaleError(SessionError):
    """No market data for ``stale_after`` seconds (heartbeats alone do not count)."""


class VenueSession(ABC):
    """Protocol state for one connection. A fresh session is made after every (re)connect.

    Subclasses put outgoing text in ``self.outbox``; the loop sends it after each burst.
    ``pending_acks`` holds subscription keys still unacknowledged; the loop fails the session
    when any remain after ``ack_timeout``. ``live`` turns True once the first acks arrive.
    """

    def __init__(self, connector: WsConnector[Any], ctx: ConnectorContext) -> None:
        self.connector = connector
        self.ctx = ctx
        self.stats = ctx.stats
        self.outbox: list[str] = []
        self.pending_acks: set[str] = set()
        self.subscribed: set[str] = set()
        self.went_live = False
        self.got_data = False  # market data received on this connection
        self.frame: Frame = b""  # the frame being parsed (set by the loop): raw text for Rejected
        self._invalid_log = connector.invalid_log(ctx)

    @abstractmethod
    def opening_messages(self) -> list[str]:
        """Requests to send right after connecting (subscriptions); fill ``pending_acks``."""

    @abstractmethod
    def on_frame(self, frame: Frame, recv_ns: int, out: list[EventBase]) -> bool:
        """Parse one frame, append normalized events to ``out``; True if it carried market data.

        Raise :class:`MalformedFrame` (or let msgspec/ValueError/KeyError escape) for frames
        that cannot be understood: they are counted, logged now and then, and skipped.
        """

    def periodic(self, now_ns: int) -> None:
        """Called about every ``tick`` seconds: application pings, deferred requests."""

    def invalid(self, reason: str, field: str, value: str, out: list[EventBase], symbol: str = "*", recv_ns: int = 0) -> None:
        """Refuse one value (see :mod:`mdi.validate`): count it by reason, log it rate-limited,
        and append a :class:`Rejected` event carrying the raw frame, so the audit trail is in the
        lake. The caller leaves out the event the value belonged to."""
        self.stats.invalid[reason] += 1
        raw = self.frame.decode("utf-8", "replace") if isinstance(self.frame, bytes) else self.frame
        out.append(Rejected(
            venue=self.connector.venue, symbol=symbol, ts_recv=recv_ns or self.ctx.clock(),
            reason=reason, field=field, value=value[:200], raw=raw[:RAW_LIMIT],
        ))  # fmt: skip
        self._invalid_log.warning(
            f"invalid:{reason}:{field}", "%s: value refused (%s) in field %s: %.80s", self.ctx.name, reason, field, value
        )

    def clock(self) -> int:
        """Now, in ns: the connector's clock (recorded live, replayed from the capture).

        Prefer the ``recv_ns``/``now_ns`` the loop passes in; when a session needs the time
        elsewhere it must ask here, never ``time.time()``, or replay cannot reproduce it.
        """
        return self.ctx.clock()

    def acknowledge(self, key: str) -> None:
        self.pending_acks.discard(key)
        self.subscribed.add(key)

    def reject(self, key: str, reason: str) -> None:
        """A venue refused a subscription: an error in the log and in /health, not a hole."""
        self.pending_acks.discard(key)
        self.stats.sub_rejections += 1
        entry = f"{key}: {reason}"
        if entry not in self.stats.rejected:
            self.stats.rejected.append(entry)
        self.stats.last_error = f"subscription rejected: {entry}"
        self.ctx.log.error("subscription rejected", extra={"venue": self.ctx.name, "subscription": key, "reason": reason})


C = TypeVar("C", bound=ConnectorConfigBase)

PARSE_ERRORS = (MalformedFrame, msgspec.DecodeError, msgspec.ValidationError, ValueError, KeyError, TypeError, IndexError)


class WsConnector(ABC, Generic[C]):
    """Reconnect loop; subclasses implement :meth:`new_session` and set ``venue``."""

    venue: ClassVar[str]
    tick: ClassVar[float] = 0.25

    def __init__(self, config: C) -> None:
        self.config = config
        # REST gap repair (mdi.backfill); a venue connector that supports it sets this.
        self.backfiller: Backfiller | None = None
        self._invalid_logs: dict[int, RateLimitedLog] = {}

    def invalid_log(self, ctx: ConnectorContext) -> RateLimitedLog:
        """One rate-limited log of refused values per context, shared by its sessions."""
        log = self._invalid_logs.get(id(ctx))
        if log is None:
            log = self._invalid_logs[id(ctx)] = RateLimitedLog(ctx.log)
        return log

    @abstractmethod
    def new_session(self, ctx: ConnectorContext) -> VenueSession:
        """A fresh protocol session for a new connection."""

    def url(self) -> str:
        return self.config.url

    async def run(self, ctx: ConnectorContext) -> None:
        """Connect, stream, and reconnect forever (until cancelled).

        With a :attr:`backfiller`, its repair worker runs beside the connection in a task group
        owned here (the core's), so REST repairs never hold up the stream; it is started first
        so the session can hand it holes from the first frame on.
        """
        backfiller: Backfiller | None = getattr(self, "backfiller", None)  # a subclass may skip __init__
        if backfiller is None or not backfiller.config.backfill:
            await self._connect_forever(ctx)
            return
        refused = backfiller.check_target(self.url())
        if refused:  # holes are written at once, saying why (see Backfiller.report)
            ctx.log.warning("gap repair off: %s", refused, extra={"venue": ctx.name})
            await self._connect_forever(ctx)
            return
        async with anyio.create_task_group() as tg:
            await tg.start(backfiller.run, ctx)
            await self._connect_forever(ctx)

    async def _connect_forever(self, ctx: ConnectorContext) -> None:
        attempt = 0
        bad = RateLimitedLog(ctx.log)
        while True:
            self._set_state(ctx, "connecting")
            await self._status(ctx, "connecting", "", attempt)
            error = ""
            session: VenueSession | None = None
            stale = False
            try:
                async with ctx.transport.connect(self.url(), open_timeout=self.config.open_timeout) as ws:
                    await self._status(ctx, "connected", self.url(), attempt)
                    session = self.new_session(ctx)
                    await self._stream(ws, session, ctx, bad)
            except (TransportError, SessionError, OSError) as exc:
                error = str(exc) or type(exc).__name__
                stale = isinstance(exc, StaleError)
            ctx.stats.last_error = error or ctx.stats.last_error
            ctx.stats.reconnects += 1
            if session is not None and session.went_live:
                attempt = 0  # a connection that worked starts the backoff schedule afresh
            delay = self._backoff(attempt)
            attempt += 1
            # "stale" stays visible while we wait: it says why this venue is not live.
            self._set_state(ctx, "stale" if stale else "backoff")
            await self._status(ctx, "disconnected", error, attempt)
            ctx.log.warning(
                "connection lost; reconnecting",
                extra={"venue": ctx.name, "error": error, "delay_s": round(delay, 3), "attempt": attempt},
            )
            await ctx.sleep(delay)

    def _backoff(self, attempt: int) -> float:
        cap = min(self.config.backoff_max, self.config.backoff_initial * (2**attempt))
        return random.uniform(cap / 2, cap)  # "equal jitter": never zero, never above the cap

    @staticmethod
    def _set_state(ctx: ConnectorContext, state: VenueState) -> None:
        ctx.stats.state = state

    async def _status(self, ctx: ConnectorContext, state: ConnState, detail: str, attempt: int) -> None:
        now = ctx.clock()
        symbol = getattr(self.config, "status_symbol", "") or "*"
        await ctx.emit([ConnectionStatus(venue=self.venue, symbol=symbol, ts_recv=now, state=state, detail=detail, attempt=attempt)])

    @staticmethod
    async def _deliver(ctx: ConnectorContext, events: list[EventBase]) -> None:
        """Hand parsed events to the router; ``events`` counts only what it took.

        ``emit`` may wait (back-pressure), and shutdown cancels connectors: a cancelled emit has
        queued nothing (see ``BatchChannel.put``), so the batch is sent again under a shielded,
        bounded scope before the cancellation goes on. Without this, events parsed from frames
        already read were lost at every SIGTERM under load.
        """
        try:
            await ctx.emit(events)
        except anyio.get_cancelled_exc_class():
            delivered = False
            with anyio.move_on_after(DELIVER_GRACE_S, shield=True):
                await ctx.emit(events)
                delivered = True
            if delivered:
                ctx.stats.events += len(events)
            else:
                ctx.stats.undelivered += len(events)
                ctx.log.error("shutdown: events not delivered", extra={"venue": ctx.name, "events": len(events)})
            raise
        ctx.stats.events += len(events)

    async def _stream(self, ws: WsConnection, session: VenueSession, ctx: ConnectorContext, bad: RateLimitedLog) -> None:
        """Run one connection until it fails (it always ends by raising)."""
        cfg = self.config
        stats = ctx.stats
        self._set_state(ctx, "subscribing")
        for message in session.opening_messages():
            await ws.send_text(message)
        opened = ctx.clock()
        last_data = opened
        ack_deadline = opened + int(cfg.ack_timeout * NS)
        max_age = int(cfg.max_connection_age * NS) if cfg.max_connection_age > 0 else 0
        live = False
        stale_ns = int(cfg.stale_after * NS)
        next_tick = opened
        while True:
            # A burst still buffered is taken without arming the receive timeout (a cancel scope
            # per batch costs more than parsing a small batch); only an empty buffer waits.
            frames: list[Frame] = ws.take_buffered()
            waited = not frames
            if waited:
                with anyio.move_on_after(self.tick):
                    frames = await ws.recv_batch()
            now = ctx.clock()
            emitted = False
            if frames:
                events: list[EventBase] = []
                got_data = False
                for frame in frames:
                    session.frame = frame
                    try:
                        got_data = session.on_frame(frame, now, events) or got_data
                    except InvalidFrame as exc:
                        session.invalid(exc.reason, exc.field, exc.value, events, exc.symbol, now)
                    except PARSE_ERRORS as exc:
                        stats.parse_errors += 1
                        bad.warning("malformed", "malformed frame skipped: %s: %.200r", type(exc).__name__, frame)
                stats.frames += len(frames)
                if got_data:
                    last_data = now
                    stats.last_data_ns = now
                    session.got_data = True
                    if live and stats.state != "live":
                        stats.state = "live"  # acknowledged and data since this (re)connect
                if events:
                    await self._deliver(ctx, events)
                    emitted = True
            if session.outbox:
                outbox, session.outbox = session.outbox, []
                for message in outbox:
                    await ws.send_text(message)
            if not live and not session.pending_acks and session.subscribed:
                live = session.went_live = True
                # Acknowledged is not live: a stalled venue acks and then sends nothing.
                self._set_state(ctx, "live" if session.got_data else "subscribed")
                await self._status(ctx, "subscribed", ",".join(sorted(session.subscribed))[:500], 0)
            if now >= next_tick:
                next_tick = now + int(self.tick * NS)
                session.periodic(now)
                if session.pending_acks and now > ack_deadline:
                    raise SessionError(f"no acknowledgement within {cfg.ack_timeout}s for {sorted(session.pending_acks)[:5]}")
                if now - last_data > stale_ns:
                    self._set_state(ctx, "stale")
                    await self._status(ctx, "stale", f"no data for {cfg.stale_after}s", 0)
                    raise StaleError(f"stale: no data for {cfg.stale_after}s")
                if max_age and now - opened > max_age:
                    raise SessionError("maximum connection age reached; reconnecting")
            if not waited and not emitted:
                await anyio.lowlevel.checkpoint()  # a burst of non-data frames must not hog the loop

