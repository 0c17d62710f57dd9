"""One Binance connection: paced SUBSCRIBE requests, their acks and errors, mark price frames.

The subscription is confirmed by id: each ``{"method":"SUBSCRIBE","params":[...],"id":N}``
is answered ``{"result":null,"id":N}`` (ack: its streams become subscribed) or
``{"error":{"code":..,"msg":..},"id":N}`` (its streams are rejected). Binance numbers nothing on
this stream, so there is no gap detection; a wrong URL path is acknowledged and then silent,
which the staleness check turns into a reconnect. Protocol pings are answered by the transport.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import msgspec

from mdi.components import ConnectorContext
from mdi.connector import MalformedFrame, VenueSession
from mdi.events import EventBase, MarkPrice
from mdi.logutil import RateLimitedLog
from mdi.prices import parse_decimal
from mdi.timeutil import NS_PER_MS, NS_PER_S
from mdi.transport import Frame
from mdi.validate import MIN_TIMESTAMP_NS, PLACEHOLDER_TIMESTAMP, FieldChecks, finite, positive

from mdi_binance.pacing import RequestPacer
from mdi_binance.wire import COMBINED_MARK_PRICE, ENVELOPE, PAYLOAD, MarkPriceUpdate, SubscribeRequest, encode

if TYPE_CHECKING:
    from mdi_binance.connector import BinanceConnector

VENUE = "binance"
MARK_PRICE_EVENT = "markPriceUpdate"
# Prices are > 0; funding rates may be negative (finite is all they must be).
MARK_PRICE_FIELDS = FieldChecks(("p", positive), ("i", positive), ("P", positive), ("r", finite))


def funding_rate(text: str) -> Decimal | None:
    """``r`` is text; ``""`` (delivery contracts) means no funding rate."""
    return parse_decimal(text) if text else None


class BinanceSession(VenueSession):
    def __init__(self, connector: BinanceConnector, ctx: ConnectorContext) -> None:
        super().__init__(connector, ctx)
        self.config = connector.config
        self.symbol_of = connector.symbol_map
        self.pacer = RequestPacer(self.config.max_requests_per_second, self.config.pacing_window())
        self.requests: dict[int, list[str]] = {}
        self.latency = ctx.stats.exchange_latency
        self.errors = RateLimitedLog(ctx.log)
        self.wanted = frozenset(self.config.stream_names())
        self.kind = self.config.stream.split("@")[0]  # "markPrice" of "markPrice@1s"
        self._streams: dict[str, bool] = {}

    # ----- requests --------------------------------------------------------------------
    def opening_messages(self) -> list[str]:
        """All SUBSCRIBE requests are queued; the first ones leave now, the rest in ``periodic``."""
        streams = self.config.stream_names()
        per = self.config.streams_per_request
        for request_id, start in enumerate(range(0, len(streams), per), start=1):
            chunk = streams[start : start + per]
            self.requests[request_id] = chunk
            self.pending_acks.update(chunk)
            self.pacer.add(encode(SubscribeRequest(method="SUBSCRIBE", params=chunk, id=request_id)).decode())
        return self.pacer.release(self.ctx.clock())

    def periodic(self, now_ns: int) -> None:
        self.outbox.extend(self.pacer.release(now_ns))

    # ----- frames ----------------------------------------------------------------------
    def on_frame(self, frame: Frame, recv_ns: int, out: list[EventBase]) -> bool:
        """A combined-stream mark price (nearly every frame) in one decode; anything else, or a
        frame the one-pass decoder refuses, through :meth:`on_frame_general`."""
        try:
            combined = COMBINED_MARK_PRICE.decode(frame)
        except msgspec.DecodeError:  # ValidationError too: another shape, or a bad update
            return self.on_frame_general(frame, recv_ns, out)
        if combined.stream is not None and not self._ours(combined.stream):
            return self._ignore()
        u = combined.data
        event = self._mark_price(u, recv_ns, out)
        if event is None:
            return False
        out.append(event)
        self.latency.observe((recv_ns - u.E * NS_PER_MS) / NS_PER_S)
        return True

    def on_frame_general(self, frame: Frame, recv_ns: int, out: list[EventBase]) -> bool:
        """Every frame shape: the envelope first, then dispatch on which keys it has."""
        envelope = ENVELOPE.decode(frame)
        if isinstance(envelope, list):  # raw /ws/!markPrice@arr
            return self._mark_prices(envelope, recv_ns, out)
        if envelope.data:  # combined stream: {"stream":..,"data":..}
            if envelope.stream is not None and not self._ours(envelope.stream):
                return self._ignore()  # e.g. bookTicker, aggTrade on a shared connection
            return self._mark_prices(PAYLOAD.decode(envelope.data), recv_ns, out)
        if envelope.e is not None:  # raw stream: the frame is the event
            if envelope.e != MARK_PRICE_EVENT:
                return self._ignore()
            return self._mark_prices(PAYLOAD.decode(frame), recv_ns, out)
        if envelope.error is not None:
            self._on_error(envelope.id, envelope.error.code, envelope.error.msg)
        elif envelope.code is not None:  # unwrapped error shape of the docs table
            self._on_error(envelope.id, envelope.code, envelope.msg or "")
        elif envelope.id is not None:
            self._on_reply(envelope.id)
        else:
            raise MalformedFrame("none of the keys data, e, error, code or id")
        return False

    def _ours(self, stream: str) -> bool:
        """A mark price stream: one we subscribed, the same kind at another interval
        (``btcusdt@markPrice`` for ``@1s``), or an ``!``-stream (sent only when asked for).
        Other kinds (``bookTicker``, ``aggTrade``) are someone else's. Cached per stream name."""
        ours = self._streams.get(stream)
        if ours is None:
            kind = stream.split("@")[1] if "@" in stream else ""
            ours = self._streams[stream] = stream in self.wanted or stream.startswith("!") or kind == self.kind
        return ours

    def _ignore(self) -> bool:
        """A well-formed frame of a stream we did not subscribe: counted as ignored, not malformed."""
        self.stats.ignored += 1
        return False

    def _mark_prices(self, payload: MarkPriceUpdate | list[MarkPriceUpdate], recv_ns: int, out: list[EventBase]) -> bool:
        updates = payload if isinstance(payload, list) else (payload,)
        last: MarkPriceUpdate | None = None
        for update in updates:
            event = self._mark_price(update, recv_ns, out)
            if event is not None:
                out.append(event)
                last = update
        if last is not None:
            self.latency.observe((recv_ns - last.E * NS_PER_MS) / NS_PER_S)
        return last is not None

    def _mark_price(self, u: MarkPriceUpdate, recv_ns: int, out: list[EventBase]) -> MarkPrice | None:
        """The event, or None when a value is refused (recorded as a Rejected event in ``out``)."""
        symbol = self.symbol_of(u.s)
        try:
            rate = Decimal(u.r) if u.r else None  # non-finite text is refused just below
        except InvalidOperation:
            self.invalid("not_a_number", "r", u.r, out, symbol, recv_ns)
            return None
        # Decimal reads "NaN"/"Infinity" too; such a price must not reach the lake. Funding
        # rates may be negative (finite is all they must be).
        reason, field, value = MARK_PRICE_FIELDS.check((u.p, u.i, u.P, rate))
        if not reason and u.E * NS_PER_MS < MIN_TIMESTAMP_NS:  # what timestamp() refuses, without the call
            reason, field, value = PLACEHOLDER_TIMESTAMP, "E", str(u.E)
        if reason:
            self.invalid(reason, field, value, out, symbol, recv_ns)
            return None
        return MarkPrice(
            venue=VENUE,
            symbol=symbol,
            ts_recv=recv_ns,
            ts_exchange=u.E * NS_PER_MS,
            mark_price=u.p,
            index_price=u.i,
            est_settle_price=u.P,
            funding_rate=rate,
            next_funding_ns=u.T * NS_PER_MS if u.T else None,
        )

    # ----- control replies -------------------------------------------------------------
    def _on_reply(self, request_id: int | str) -> None:
        """``{"result":null,"id":N}`` acknowledges the streams of request N; other replies
        (LIST_SUBSCRIPTIONS, GET_PROPERTY, unknown ids) carry nothing to act on."""
        streams = self.requests.pop(request_id, None) if isinstance(request_id, int) else None
        for stream in streams or ():
            self.acknowledge(stream)

    def _on_error(self, request_id: int | str | None, code: int, msg: str) -> None:
        reason = f"code {code}: {msg}"
        streams = self.requests.pop(request_id, None) if isinstance(request_id, int) else None
        if streams:
            for stream in streams:
                self.reject(stream, reason)
            return
        self.stats.last_error = f"binance error (id={request_id}): {reason}"
        self.errors.error("venue-error", "binance error reply (id=%s): %s", request_id, reason)
