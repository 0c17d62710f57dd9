"""One Coinbase Advanced Trade connection: subscribe, match acknowledgements, parse, check numbering.

Data: ``ticker`` -> :class:`BBO` from ``best_bid``/``best_bid_quantity``/``best_ask``/
``best_ask_quantity``; a ticker without them (pre-2024 format) is not a BBO and is ignored and
counted. ``market_trades`` (snapshot and updates, several trades per frame, newest first) ->
:class:`Trade` in trade order, oldest first, de-duplicated across reconnects by
``(product_id, trade_id)``.

Numbering: ``sequence_num`` is one counter per connection across every channel, starting at 0;
a jump is a :class:`SequenceGap` on channel ``connection``. ``heartbeats`` carry
``heartbeat_counter`` (+1 a second); a jump is a gap on channel ``heartbeats``, while the same
counter twice is normal (Coinbase repeats it, with a new ``sequence_num``) and not a gap.

Not data (staleness ignores them): ``heartbeats``, ``subscriptions`` (acknowledgements: the
cumulative map channel -> products after each subscribe request) and ``error`` frames. Coinbase
answers subscribe requests in order, so an error while requests are unacknowledged rejects the
oldest of them; any other error goes to ``last_error``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import InvalidOperation
from typing import TYPE_CHECKING

import msgspec

from mdi.components import ConnectorContext
from mdi.connector import MalformedFrame, VenueSession
from mdi.events import BBO, EventBase, SequenceGap, Side, Trade
from mdi.logutil import RateLimitedLog
from mdi.timeutil import parse_rfc3339_ns
from mdi.validate import MAX_ADJUSTED_EXPONENT, MIN_ADJUSTED_EXPONENT, MIN_TIMESTAMP_NS, quote, timestamp
from mdi.validate import trade as valid_trade
from mdi.transport import Frame

from mdi_coinbase import wire
from mdi_coinbase.wire import Envelope

# What a NaN compared raises (as mdi.validate's fast checks catch it).
_FAST_ERRORS = (InvalidOperation, AttributeError, TypeError)

if TYPE_CHECKING:
    from mdi_coinbase.connector import CoinbaseConnector

HEARTBEATS = "heartbeats"
REQUEST_TYPES = frozenset({"subscribe", "unsubscribe"})
ANY_SYMBOL = "*"  # symbol of connection-level events (gaps in sequence_num and heartbeats)

TAKER_FROM_MAKER: dict[str, Side] = {"BUY": "sell", "SELL": "buy"}
AS_SENT: dict[str, Side] = {"BUY": "buy", "SELL": "sell"}

# (envelope, exchange timestamp ns or None, receive time ns, out) -> carried market data
ChannelHandler = Callable[[Envelope, int | None, int, list[EventBase]], bool]


def sub_key(channel: str, product: str | None) -> str:
    """Subscription key for acks, rejections and /health: ``ticker:BTC-USD``, ``heartbeats``."""
    return channel if channel == HEARTBEATS or product is None else f"{channel}:{product}"


def _trade_order(item: tuple[int, wire.MarketTrade]) -> tuple[int, int, str]:
    """Oldest first: trade time, then trade id (numeric text compares by length, then digits)."""
    ts, trade = item
    return ts, len(trade.trade_id), trade.trade_id


def _oldest_first(timed: list[tuple[int, wire.MarketTrade]]) -> list[tuple[int, wire.MarketTrade]]:
    """``sorted(timed, key=_trade_order)`` without the sort when the order is known: one trade,
    already oldest first (kept as is, as the stable sort keeps it), or strictly newest first
    (Coinbase's order: reversed; no two keys equal, so stability cannot matter)."""
    n = len(timed)
    if n == 1:
        return timed
    keys = [_trade_order(item) for item in timed]
    if n == 2:
        first, second = keys
        if first <= second:
            return timed
        return [timed[1], timed[0]]
    pairs = list(zip(keys, keys[1:]))
    if all(a <= b for a, b in pairs):
        return timed
    if all(a > b for a, b in pairs):
        timed.reverse()
        return timed
    return sorted(timed, key=_trade_order)


class CoinbaseSession(VenueSession):
    """Protocol state of one connection (a fresh one after every reconnect)."""

    connector: CoinbaseConnector

    def __init__(self, connector: CoinbaseConnector, ctx: ConnectorContext) -> None:
        super().__init__(connector, ctx)
        self.cfg = connector.config
        self.venue = connector.venue
        self.expected: set[str] = set()
        self.requests: list[tuple[str, frozenset[str]]] = []  # (channel, keys), in send order
        self.next_seq = 0
        self.last_heartbeat: int | None = None
        self._sides = TAKER_FROM_MAKER if self.cfg.wire_side_is_maker else AS_SENT
        self._log = RateLimitedLog(ctx.log)
        self._channels: dict[str, ChannelHandler] = {
            "ticker": self._on_ticker,
            "market_trades": self._on_trades,
            HEARTBEATS: self._on_heartbeats,
            "subscriptions": self._on_subscriptions,
        }

    # ----- outgoing ------------------------------------------------------------------------
    def opening_messages(self) -> list[str]:
        """One subscribe message per channel (Coinbase wants them within 5 s of connecting)."""
        products = list(self.cfg.symbols)
        messages: list[str] = []
        if self.cfg.bbo:
            messages.append(self._subscribe("ticker", products))
        if self.cfg.trades:
            messages.append(self._subscribe("market_trades", products))
        if self.cfg.heartbeats:
            messages.append(self._subscribe(HEARTBEATS, None))
        return messages

    def _subscribe(self, channel: str, products: list[str] | None) -> str:
        keys = frozenset(sub_key(channel, p) for p in products) if products else frozenset({sub_key(channel, None)})
        self.requests.append((channel, keys))
        self.expected |= keys
        self.pending_acks |= keys
        return wire.subscribe_request(channel, products)

    # ----- incoming ------------------------------------------------------------------------
    def on_frame(self, frame: Frame, recv_ns: int, out: list[EventBase]) -> bool:
        """Data frames in one decode; every other frame (and any the one-pass decode refuses)
        the general way, which repeats the work from the start: nothing is changed before the
        one-pass decode has succeeded, so the outcome is the general way's in every case."""
        try:
            msg = wire.DATA_FRAME.decode(frame)
        except msgspec.DecodeError:  # also ValidationError: another channel, an error frame...
            return self._on_frame_general(frame, recv_ns, out)
        if msg.type is not None:  # error frames and echoed requests carry a type; data does not
            return self._on_frame_general(frame, recv_ns, out)
        seq = msg.sequence_num
        if seq is not None:
            if seq == self.next_seq:
                self.next_seq = seq + 1
            else:
                self._check_sequence(seq, recv_ns, out)
        ts = self._exchange_time(msg.timestamp, recv_ns)
        if isinstance(msg, wire.TradesFrame):
            return self._trades(msg.events, recv_ns, out)
        return self._tickers(msg.events, ts, recv_ns, out)

    def _on_frame_general(self, frame: Frame, recv_ns: int, out: list[EventBase]) -> bool:
        """Envelope first (``events`` raw), then the channel's own decoder: every frame shape."""
        try:
            env = wire.ENVELOPE.decode(frame)
        except msgspec.ValidationError:
            raise
        except msgspec.DecodeError as exc:
            raise MalformedFrame(f"not JSON: {frame[:80]!r}") from exc
        if env.type == "error":
            self._on_error(env)
            return False
        if env.type in REQUEST_TYPES:  # our own request echoed (or a recording of one): not data
            return self._ignore(f"request:{env.type}")
        if env.channel is None:
            raise MalformedFrame("frame has neither 'channel' nor type 'error'")
        if env.sequence_num is not None:
            self._check_sequence(env.sequence_num, recv_ns, out)
        ts = self._exchange_time(env.timestamp, recv_ns)
        handler = self._channels.get(env.channel)
        if handler is None:
            return self._ignore(f"channel:{env.channel}")
        return handler(env, ts, recv_ns, out)

    def _exchange_time(self, text: str | None, recv_ns: int) -> int | None:
        """The envelope's time in ns (None if absent or a placeholder), observed as latency."""
        if text is None:
            return None
        ts = parse_rfc3339_ns(text)
        if ts < MIN_TIMESTAMP_NS:
            return None  # a placeholder time is no venue time (and no latency sample)
        self.stats.exchange_latency.observe_one_ns(max(0, recv_ns - ts))
        return ts

    def _ignore(self, reason: str) -> bool:
        """Frames we deliberately do not turn into events (unsubscribed channels, old tickers)."""
        self.connector.ignored[reason] += 1
        if reason.startswith(("channel:", "request:")):
            self.stats.ignored += 1  # a whole frame not turned into events (mdi_venue_ignored_total)
        return False

    def _on_ticker(self, env: Envelope, ts: int | None, recv_ns: int, out: list[EventBase]) -> bool:
        return self._tickers(wire.TICKER_EVENTS.decode(env.events), ts, recv_ns, out)

    def _tickers(self, events: list[wire.TickerEvent], ts: int | None, recv_ns: int, out: list[EventBase]) -> bool:
        """``ticker`` -> BBO; the envelope timestamp is the only venue time a ticker has."""
        got = False
        for event in events:
            for t in event.tickers:
                if t.best_bid is None or t.best_bid_quantity is None or t.best_ask is None or t.best_ask_quantity is None:
                    self._ignore("ticker_without_bbo")
                    continue
                reason, field, value = quote(t.best_bid, t.best_bid_quantity, t.best_ask, t.best_ask_quantity)
                if reason:
                    self.invalid(reason, field, value, out, t.product_id, recv_ns)
                    continue
                out.append(
                    BBO(
                        venue=self.venue,
                        symbol=t.product_id,
                        ts_recv=recv_ns,
                        ts_exchange=ts,
                        bid_px=t.best_bid,
                        bid_sz=t.best_bid_quantity,
                        ask_px=t.best_ask,
                        ask_sz=t.best_ask_quantity,
                    )
                )
                got = True
        return got

    def _on_trades(self, env: Envelope, ts: int | None, recv_ns: int, out: list[EventBase]) -> bool:
        return self._trades(wire.TRADES_EVENTS.decode(env.events), recv_ns, out)

    def _trades(self, events: list[wire.TradesEvent], recv_ns: int, out: list[EventBase]) -> bool:
        """``market_trades`` -> Trade, oldest first, skipping trades already seen on any connection.

        Per trade this is the hot path of the connector, so the common case is written out:
        the checks of :func:`mdi.validate.trade` and :func:`mdi.validate.timestamp` as plain
        comparisons (a value they would refuse falls through to them for the reason), and the
        trade-id check's consecutive case (see :meth:`_check_trade_ids`).
        """
        got = False
        recent = self.connector.recent_trades
        sides = self._sides
        venue = self.venue
        gap_check = self.cfg.trade_gap_check
        for event in events:
            trades = event.trades
            if not trades:
                continue
            timed = _oldest_first([(parse_rfc3339_ns(t.time), t) for t in trades])
            fresh: list[tuple[int, wire.MarketTrade]] = []
            for trade_ts, t in timed:
                price = t.price
                size = t.size
                try:
                    ok = (price > 0 and size > 0 and price.is_finite() and size.is_finite()
                          and MIN_ADJUSTED_EXPONENT <= price.adjusted() <= MAX_ADJUSTED_EXPONENT
                          and MIN_ADJUSTED_EXPONENT <= size.adjusted() <= MAX_ADJUSTED_EXPONENT
                          and trade_ts >= MIN_TIMESTAMP_NS)
                except _FAST_ERRORS:  # NaN compared
                    ok = False
                if not ok:
                    reason, field, value = valid_trade(price, size)
                    if not reason and timestamp(trade_ts):
                        reason, field, value = timestamp(trade_ts), "time", t.time
                    if reason:
                        self.invalid(reason, field, value, out, t.product_id, recv_ns)
                        continue
                got = True
                if recent.seen((t.product_id, t.trade_id)):
                    self.stats.duplicates += 1
                    continue
                fresh.append((trade_ts, t))
                out.append(
                    Trade(
                        venue=venue,
                        symbol=t.product_id,
                        ts_recv=recv_ns,
                        ts_exchange=trade_ts,
                        trade_id=t.trade_id,
                        price=price,
                        size=size,
                        side=sides.get(t.side, "unknown"),
                    )
                )
            if gap_check and fresh:
                self._check_trade_ids(fresh, recv_ns, out)
        return got

    def _check_trade_ids(self, fresh: list[tuple[int, wire.MarketTrade]], recv_ns: int, out: list[EventBase]) -> None:
        """Gap check in id order: two trades of one frame may carry times out of id order.

        The next id of a product (the common case) is recorded here as
        :meth:`TradeIdGaps.observe <mdi.backfill.TradeIdGaps.observe>` records it (no hole, the
        id and time become the product's last); every other id goes through ``observe``.
        """
        numbered = [(int(t.trade_id), ts, t.product_id) for ts, t in fresh if t.trade_id.isdigit()]
        if len(numbered) > 1:
            numbered.sort()
        gaps = self.connector.trade_gaps
        last_id = gaps.last_id
        for trade_id, ts, product in numbered:
            last = last_id.get(product)
            if last is not None and trade_id == last + 1:
                last_id[product] = trade_id
                gaps.last_ns[product] = ts
            else:
                self._check_trade_id(product, trade_id, ts, recv_ns, out)

    def _check_trade_id(self, product: str, trade_id: int, ts: int, recv_ns: int, out: list[EventBase]) -> None:
        """Trade ids run consecutively per product: a jump is a hole for the backfiller, which
        writes the gap row (channel ``trade``) once it has tried REST."""
        hole = self.connector.trade_gaps.observe(product, trade_id, ts, recv_ns)
        if hole is None:
            return
        self.stats.gaps += 1
        assert self.connector.backfiller is not None
        self.connector.backfiller.report(hole, recv_ns, out)
        self._log.warning("gap:trade", "%s: %s trade_id gap: expected %d, received %d",
                          self.ctx.name, product, hole.after_id + 1, trade_id)

    def _on_heartbeats(self, env: Envelope, ts: int | None, recv_ns: int, out: list[EventBase]) -> bool:
        """Check ``heartbeat_counter`` (+1 a second); a repeated counter is not a gap."""
        for event in wire.HEARTBEAT_EVENTS.decode(env.events):
            counter = int(event.heartbeat_counter)
            last = self.last_heartbeat
            self.connector.heartbeats += 1
            if last is None or counter > last:
                if last is not None and counter > last + 1:
                    self._gap(HEARTBEATS, last + 1, counter, recv_ns, out)
                self.last_heartbeat = counter
            else:  # the same counter again (normal) or an older one arriving late
                self._ignore("heartbeat_repeat")
        return False

    def _check_sequence(self, seq: int, recv_ns: int, out: list[EventBase]) -> None:
        """``sequence_num`` counts every frame of this connection from 0, whatever the channel."""
        expected = self.next_seq
        if seq == expected:
            self.next_seq = seq + 1
        elif seq > expected:
            self._gap("connection", expected, seq, recv_ns, out)
            self.next_seq = seq + 1
        else:
            self._ignore("sequence_behind")

    def _gap(self, channel: str, expected: int, received: int, recv_ns: int, out: list[EventBase]) -> None:
        self.stats.gaps += 1
        out.append(
            SequenceGap(
                venue=self.venue, symbol=ANY_SYMBOL, ts_recv=recv_ns, channel=channel, expected=expected, received=received
            )
        )
        self._log.warning(
            f"gap:{channel}", "%s: %s gap: expected %d, received %d", self.ctx.name, channel, expected, received
        )

    # ----- acknowledgements and errors ------------------------------------------------------
    def _on_subscriptions(self, env: Envelope, ts: int | None, recv_ns: int, out: list[EventBase]) -> bool:
        """Acks are cumulative (every active channel each time): acknowledge what is pending."""
        for event in wire.SUBSCRIPTIONS_EVENTS.decode(env.events):
            for channel, products in event.subscriptions.items():
                keys = [sub_key(channel, None)] if channel == HEARTBEATS else [sub_key(channel, p) for p in products]
                for key in keys:
                    if key in self.pending_acks:
                        self.acknowledge(key)
                    elif key not in self.expected:
                        self._ignore("ack_not_requested")
        return False

    def _on_error(self, env: Envelope) -> None:
        """Reject the oldest unacknowledged request (Coinbase answers in order), else record it."""
        reason = env.message or "error"
        if env.reason:
            reason = f"{reason}: {env.reason}"
        for _channel, keys in self.requests:
            pending = keys & self.pending_acks
            if pending:
                for key in sorted(pending):
                    self.reject(key, reason)
                return
        self.stats.last_error = f"venue error: {reason}"
        self._log.error("venue-error", "%s: venue error: %s", self.ctx.name, reason)
