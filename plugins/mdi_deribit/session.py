"""One Deribit JSON-RPC connection: heartbeat, instrument discovery, paced subscriptions, parsing.

On connect the session asks for server heartbeats (``public/set_heartbeat``), subscribes DVOL and
any explicitly configured instruments, and asks for the index price and the option list over the
same socket. When both answers are in, :func:`select_options` picks the options to follow and the
ticker channels are queued; :meth:`periodic` sends one ``public/subscribe`` (or
``public/unsubscribe``) chunk at a time, at most ``subscribe_rate`` requests a second, because
Deribit limits subscribe requests per IP. Every ``instrument_refresh`` seconds the list is fetched
again and the difference is subscribed and unsubscribed, so new expiries appear and expired ones go.

Every request has a deadline (``ack_timeout``); a venue that stops answering ends the session.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

import msgspec

from mdi.connector import NS, MalformedFrame, SessionError, VenueSession
from mdi.events import EventBase, Greeks, OptionTicker, VolIndex
from mdi.timeutil import NS_PER_MS
from mdi.transport import Frame
from mdi.validate import (
    MIN_TIMESTAMP_NS, PLACEHOLDER_TIMESTAMP, FieldChecks, check_fields, finite, non_negative, positive, timestamp,
)

from mdi_deribit import wire
from mdi_deribit.instruments import select_options

if TYPE_CHECKING:
    from mdi.components import ConnectorContext

    from mdi_deribit.connector import DeribitConnector

TOO_MANY_REQUESTS = 10028
RETRY_AFTER_ERROR_S = 10.0
SUBSCRIBE = "public/subscribe"
UNSUBSCRIBE = "public/unsubscribe"
GET_INSTRUMENTS = "public/get_instruments"
GET_INDEX_PRICE = "public/get_index_price"

NO_GREEKS = Greeks()


class Pending(NamedTuple):
    """A request waiting for its response."""

    method: str
    channels: tuple[str, ...]
    sent_ns: int


class DeribitSession(VenueSession):
    def __init__(self, connector: DeribitConnector, ctx: ConnectorContext) -> None:
        super().__init__(connector, ctx)
        self.deribit = connector
        self.cfg = connector.config
        self.inflight: dict[int, Pending] = {}
        self.wanted: set[str] = set()
        self.sub_queue: dict[str, None] = {}  # ordered sets: O(1) removal on refresh
        self.unsub_queue: dict[str, None] = {}
        self._next_id = 0
        self._next_send_ns = 0
        self._next_refresh_ns = 0
        self._listed: list[wire.Instrument] | None = None
        self._index_request: int | None = None
        self._gap_ns = int(NS / self.cfg.subscribe_rate)
        self._ack_ns = int(self.cfg.ack_timeout * NS)
        self._option_meta = connector.option_meta
        self._latency = self.stats.exchange_latency
        self._channel_kinds: dict[str, Callable[[Any, int, list[EventBase]], bool]] = {
            "ticker": self._on_ticker,
            "deribit_volatility_index": self._on_vol_index,
        }

    # ----- requests ----------------------------------------------------------------------
    def request(self, method: str, params: dict[str, Any], now_ns: int, channels: tuple[str, ...] = ()) -> str:
        """Encode a request and remember it until its response arrives."""
        self._next_id += 1
        self.inflight[self._next_id] = Pending(method, channels, now_ns)
        return wire.encode_request(self._next_id, method, params)

    def opening_messages(self) -> list[str]:
        now = self.ctx.clock()
        cfg = self.cfg
        messages = [self.request("public/set_heartbeat", {"interval": cfg.heartbeat_interval}, now)]
        fixed = self._fixed_channels()
        self.wanted.update(fixed)
        first, rest = fixed[: cfg.subscribe_chunk], fixed[cfg.subscribe_chunk :]
        if first:
            messages.append(self.request(SUBSCRIBE, {"channels": first}, now, tuple(first)))
            self.pending_acks.update(first)
            self._next_send_ns = now + self._gap_ns
        self.sub_queue.update(dict.fromkeys(rest))
        if cfg.discover:
            messages.extend(self._discovery_requests(now))
        return messages

    def _fixed_channels(self) -> list[str]:
        """DVOL and the configured instruments: subscribed whatever the selection says."""
        cfg = self.cfg
        dvol = [cfg.dvol_channel()] if cfg.dvol else []
        return list(dict.fromkeys(dvol + [cfg.ticker_channel(n) for n in cfg.instruments]))

    def _discovery_requests(self, now_ns: int) -> list[str]:
        """Index price first (the moneyness reference), then the option list."""
        self._next_refresh_ns = now_ns + int(self.cfg.instrument_refresh * NS)
        index = self.request(GET_INDEX_PRICE, {"index_name": self.cfg.index_name}, now_ns)
        self._index_request = self._next_id
        params = {"currency": self.cfg.currency, "kind": "option", "expired": False}
        return [index, self.request(GET_INSTRUMENTS, params, now_ns)]

    def periodic(self, now_ns: int) -> None:
        for pending in self.inflight.values():
            if now_ns - pending.sent_ns > self._ack_ns:
                raise SessionError(f"no response to {pending.method} within {self.cfg.ack_timeout}s")
        if self.cfg.discover and now_ns >= self._next_refresh_ns and not self._discovering():
            self.outbox.extend(self._discovery_requests(now_ns))
        if now_ns >= self._next_send_ns:
            self._send_chunk(now_ns)

    def _discovering(self) -> bool:
        return self._listed is not None or any(p.method == GET_INSTRUMENTS for p in self.inflight.values())

    def _send_chunk(self, now_ns: int) -> None:
        """One subscribe or unsubscribe request (unsubscribes first), within the rate limit."""
        queue, method = (self.unsub_queue, UNSUBSCRIBE) if self.unsub_queue else (self.sub_queue, SUBSCRIBE)
        if not queue:
            return
        channels = tuple(islice(queue, self.cfg.subscribe_chunk))
        for channel in channels:
            del queue[channel]
        self.outbox.append(self.request(method, {"channels": list(channels)}, now_ns, channels))
        self._next_send_ns = now_ns + self._gap_ns

    # ----- frames ------------------------------------------------------------------------
    def on_frame(self, frame: Frame, recv_ns: int, out: list[EventBase]) -> bool:
        """Option tickers (nearly every frame) in one decode; anything else, or a frame the
        one-pass decoder refuses, through :meth:`on_frame_general`, which decides as before."""
        try:
            note = wire.TICKER_NOTIFICATION.decode(frame)
        except msgspec.DecodeError:  # ValidationError too: not a ticker notification, or a bad one
            return self.on_frame_general(frame, recv_ns, out)
        if note.method != "subscription" or not note.params.channel.startswith("ticker."):
            return self.on_frame_general(frame, recv_ns, out)
        return self._ticker(note.params.data, recv_ns, out)

    def on_frame_general(self, frame: Frame, recv_ns: int, out: list[EventBase]) -> bool:
        """Every frame shape: the envelope first, then the notification data by channel kind."""
        env = wire.ENVELOPE.decode(frame)
        if env.method == "subscription":
            if env.params is None:
                raise MalformedFrame("subscription without params")
            handler = self._channel_kinds.get(env.params.channel.partition(".")[0])
            if handler is None:
                self.deribit.counts["unknown_channel"] += 1
                self.stats.ignored += 1
                return False
            return handler(env.params.data, recv_ns, out)
        if env.method == "heartbeat":
            if env.params is not None and env.params.type == "test_request":
                self.outbox.append(self.request("public/test", {}, recv_ns))
            return False
        if env.id is not None:
            self._on_response(env, recv_ns)
            return False
        if env.error is not None:
            self._log_venue_error("error without a request id", env.error)
            return False
        raise MalformedFrame("neither a JSON-RPC response nor a notification")

    def _on_ticker(self, data: Any, recv_ns: int, out: list[EventBase]) -> bool:
        return self._ticker(wire.TICKER.decode(data), recv_ns, out)

    def _ticker(self, t: wire.TickerData, recv_ns: int, out: list[EventBase]) -> bool:
        name = t.instrument_name
        meta = self._option_meta(name)
        if meta is None:
            self.deribit.counts["non_option_ticker"] += 1
            return False
        ts = t.timestamp * NS_PER_MS
        g = t.greeks
        greeks = NO_GREEKS if g is None else g
        underlying_price, index_price, mark_price, mark_iv = t.underlying_price, t.index_price, t.mark_price, t.mark_iv
        bid_px, bid_sz, bid_iv = t.best_bid_price, t.best_bid_amount, t.bid_iv
        ask_px, ask_sz, ask_iv = t.best_ask_price, t.best_ask_amount, t.ask_iv
        reason, field, value = TICKER_FIELDS.check((
            underlying_price, index_price, mark_price, mark_iv, bid_iv, ask_iv, bid_px, ask_px, bid_sz, ask_sz,
            t.open_interest, greeks.delta, greeks.gamma, greeks.vega, greeks.theta, greeks.rho,
        ))  # fmt: skip
        if not reason and ts < MIN_TIMESTAMP_NS:  # what timestamp(ts) refuses, without the call
            reason, field, value = PLACEHOLDER_TIMESTAMP, "timestamp", str(t.timestamp)
        if reason:
            self.invalid(reason, field, value, out, name, recv_ns)
            return False
        # Deribit marks an empty side with 0.0 price and amount (and an IV of 0.0, or the 500.0
        # sentinel on expired options): None, so nobody mistakes it for a quote.
        if not bid_px or not bid_sz:
            bid_px = bid_sz = bid_iv = None
        if not ask_px or not ask_sz:
            ask_px = ask_sz = ask_iv = None
        out.append(OptionTicker(
            venue="deribit", symbol=name, ts_recv=recv_ns, ts_exchange=ts,
            expiry_ns=meta.expiry_ns, strike=meta.strike, option_type=meta.option_type,
            underlying_price=underlying_price, underlying_index=t.underlying_index,
            index_price=index_price, mark_price=mark_price, mark_iv=mark_iv,
            bid_iv=bid_iv, ask_iv=ask_iv, best_bid_price=bid_px, best_bid_amount=bid_sz,
            best_ask_price=ask_px, best_ask_amount=ask_sz, open_interest=t.open_interest,
            greeks=greeks,
        ))  # fmt: skip
        self._latency.observe_one_ns(recv_ns - ts)
        return True

    def _on_vol_index(self, data: Any, recv_ns: int, out: list[EventBase]) -> bool:
        v = wire.VOL_INDEX.decode(data)
        ts = v.timestamp * NS_PER_MS
        reason, field, value = check_fields((("volatility", v.volatility, non_negative),))
        if not reason and timestamp(ts):
            reason, field, value = timestamp(ts), "timestamp", str(v.timestamp)
        if reason:
            self.invalid(reason, field, value, out, dvol_symbol(v.index_name), recv_ns)
            return False
        out.append(VolIndex(
            venue="deribit", symbol=dvol_symbol(v.index_name), ts_recv=recv_ns, ts_exchange=ts,
            index_name=v.index_name, value=v.volatility,
        ))  # fmt: skip
        self.stats.exchange_latency.observe_one_ns(recv_ns - ts)
        return True

    # ----- responses ---------------------------------------------------------------------
    def _on_response(self, env: wire.Envelope, now_ns: int) -> None:
        assert env.id is not None
        pending = self.inflight.pop(env.id, None)
        if pending is None:
            self.deribit.counts["unmatched_response"] += 1
            return
        if pending.method == GET_INDEX_PRICE:
            self._index_request = None
        if env.error is not None:
            self._on_error(pending, env.error, now_ns)
        elif pending.method == SUBSCRIBE:
            self._on_subscribed(pending.channels, wire.CHANNELS.decode(env.result))
        elif pending.method == UNSUBSCRIBE:
            self.subscribed.difference_update(pending.channels)
        elif pending.method == GET_INSTRUMENTS:
            self._listed = wire.INSTRUMENTS.decode(env.result)
            self._select(now_ns)
        elif pending.method == GET_INDEX_PRICE:
            self.deribit.reference = wire.INDEX_PRICE.decode(env.result).index_price
            self._select(now_ns)

    def _on_subscribed(self, requested: tuple[str, ...], result: list[str]) -> None:
        """The result lists what was subscribed, in any order; a requested channel missing from
        it (Deribit answers an unknown channel with ``result: []``) is a rejection."""
        granted = set(result)
        for channel in requested:
            if channel not in granted:
                self.reject(channel, "not in the subscribe result (unknown or unavailable channel)")
                continue
            self.acknowledge(channel)
            if channel not in self.wanted:  # dropped by a refresh while in flight
                self.unsub_queue[channel] = None

    def _on_error(self, pending: Pending, error: wire.RpcError, now_ns: int) -> None:
        if pending.method == SUBSCRIBE and error.code == TOO_MANY_REQUESTS:
            self.sub_queue = dict.fromkeys(pending.channels) | self.sub_queue
            self._next_send_ns = now_ns + 4 * self._gap_ns
            self._log_venue_error("subscribe rate limited; retrying", error)
        elif pending.method == SUBSCRIBE:
            for channel in pending.channels:
                self.reject(channel, error.describe())
        elif pending.method == GET_INSTRUMENTS:
            self._next_refresh_ns = now_ns + int(min(self.cfg.instrument_refresh, RETRY_AFTER_ERROR_S) * NS)
            self._log_venue_error("get_instruments failed; retrying", error)
        else:
            if pending.method == GET_INDEX_PRICE:
                self._select(now_ns)  # go on with the last known reference
            self._log_venue_error(f"{pending.method} failed", error)

    def _log_venue_error(self, what: str, error: wire.RpcError) -> None:
        self.stats.last_error = f"{what}: {error.describe()}"
        self.ctx.log.warning(what, extra={"venue": self.ctx.name, "error": error.describe()})

    # ----- selection ---------------------------------------------------------------------
    def _select(self, now_ns: int) -> None:
        """Apply the selection rule once both the option list and the index price are in."""
        if self._listed is None or self._index_request is not None:
            return
        listed, self._listed = self._listed, None
        cfg = self.cfg
        names = select_options(
            listed, currency=cfg.currency, now_ns=now_ns, max_days_to_expiry=cfg.max_days_to_expiry,
            moneyness_band=cfg.moneyness_band, max_instruments=cfg.max_instruments,
            reference=self.deribit.reference,
        )  # fmt: skip
        wanted = dict.fromkeys(self._fixed_channels() + [cfg.ticker_channel(n) for n in names])
        added = [c for c in wanted if c not in self.wanted]
        removed = [c for c in self.wanted if c not in wanted]
        self.wanted = set(wanted)
        self._queue_changes(added, removed)
        self.ctx.log.info(
            "options selected",
            extra={"venue": self.ctx.name, "listed": len(listed), "selected": len(names),
                   "added": len(added), "removed": len(removed), "reference": str(self.deribit.reference)},
        )  # fmt: skip
        if not wanted:
            self.ctx.log.warning("no instruments match the filters", extra={"venue": self.ctx.name})

    def _queue_changes(self, added: list[str], removed: list[str]) -> None:
        for channel in added:
            self.unsub_queue.pop(channel, None)
            if channel not in self.subscribed:
                self.sub_queue[channel] = None
        in_flight = {c for p in self.inflight.values() if p.method == SUBSCRIBE for c in p.channels}
        for channel in removed:
            if channel in self.sub_queue:
                del self.sub_queue[channel]  # never sent: nothing to undo
                continue
            if channel in self.subscribed and channel not in in_flight:
                self.unsub_queue[channel] = None


# The fields of an option ticker and their checks, in the order a refusal names the first bad
# one. The underlying and the index are prices (> 0); option, combo and spread prices and IVs
# only need to be finite (a spread can be negative; 0.0 marks an empty side); amounts and open
# interest are >= 0; greeks are finite (theta is negative).
TICKER_FIELDS = FieldChecks(
    ("underlying_price", positive), ("index_price", positive), ("mark_price", finite), ("mark_iv", finite),
    ("bid_iv", finite), ("ask_iv", finite), ("best_bid_price", finite), ("best_ask_price", finite),
    ("best_bid_amount", non_negative), ("best_ask_amount", non_negative), ("open_interest", non_negative),
    ("greeks.delta", finite), ("greeks.gamma", finite), ("greeks.vega", finite), ("greeks.theta", finite),
    ("greeks.rho", finite),
)  # fmt: skip


def dvol_symbol(index_name: str) -> str:
    """``btc_usd`` -> ``BTC-DVOL``: the symbol VolIndex events carry in the lake."""
    return f"{index_name.partition('_')[0].upper()}-DVOL"
