"""One Binance connection: paced SUBSCRIBE requests, their acks and errors, mark price frames.

The subscription is confirmed by id: each ``{"method":"SUBSCRIBE","params":[...],"id":N}``
is answered ``{"result":null,"id":N}`` (ack: its streams become subscribed) or
``{"error":{"code":..,"msg":..},"id":N}`` (its streams are rejected). Binance numbers nothing on
this stream, so there is no gap detection; a wrong URL path is acknowledged and then silent,
which the staleness check turns into a reconnect. Protocol pings are answered by the transport.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from mdi.components import ConnectorContext
from mdi.connector import MalformedFrame, VenueSession
from mdi.events import EventBase, MarkPrice
from mdi.logutil import RateLimitedLog
from mdi.prices import parse_decimal
from mdi.timeutil import NS_PER_MS, NS_PER_S
from mdi.transport import Frame

from mdi_binance.pacing import RequestPacer
from mdi_binance.wire import ENVELOPE, PAYLOAD, MarkPriceUpdate, SubscribeRequest, encode

if TYPE_CHECKING:
    from mdi_binance.connector import BinanceConnector

VENUE = "binance"


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
        envelope = ENVELOPE.decode(frame)
        if isinstance(envelope, list):  # raw /ws/!markPrice@arr
            return self._mark_prices(envelope, recv_ns, out)
        if envelope.data:  # combined stream: {"stream":..,"data":..}
            return self._mark_prices(PAYLOAD.decode(envelope.data), recv_ns, out)
        if envelope.e is not None:  # raw stream: the frame is the event
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

    def _mark_prices(self, payload: MarkPriceUpdate | list[MarkPriceUpdate], recv_ns: int, out: list[EventBase]) -> bool:
        updates = payload if isinstance(payload, list) else (payload,)
        for update in updates:
            out.append(self._mark_price(update, recv_ns))
        if updates:
            self.latency.observe((recv_ns - updates[-1].E * NS_PER_MS) / NS_PER_S)
        return bool(updates)

    def _mark_price(self, u: MarkPriceUpdate, recv_ns: int) -> MarkPrice:
        # Decimal reads "NaN"/"Infinity" too; such a price must not reach the lake.
        if not u.p.is_finite() or (u.i is not None and not u.i.is_finite()) or (u.P is not None and not u.P.is_finite()):
            raise MalformedFrame(f"non-finite price in {u!r}")
        return MarkPrice(
            venue=VENUE,
            symbol=self.symbol_of(u.s),
            ts_recv=recv_ns,
            ts_exchange=u.E * NS_PER_MS,
            mark_price=u.p,
            index_price=u.i,
            est_settle_price=u.P,
            funding_rate=funding_rate(u.r),
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
