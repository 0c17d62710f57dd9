"""One Kraken v2 connection: subscribe, match acknowledgements, parse frames, keep the link alive.

Data: ``ticker`` (subscribed with ``event_trigger: "bbo"``) -> :class:`BBO`; ``trade`` (snapshot
and updates) -> :class:`Trade`, de-duplicated across reconnects by ``(symbol, trade_id)``.
Kraken numbers neither frames nor channels, but ``trade_id`` is a per-pair sequence, so a jump in
it is reported as a :class:`SequenceGap` on channel ``trade`` (including trades missed while
disconnected that the 50-trade snapshot could not fill).

Not data: ``heartbeat`` (about 1/s while subscribed), ``status``, method replies (``pong``,
subscribe acks/rejections). When no frame at all arrived for ``ping_after`` seconds the session
sends an application ``{"method":"ping"}``; Kraken answers ``pong``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Callable

import msgspec

from mdi.components import ConnectorContext
from mdi.connector import NS, MalformedFrame, VenueSession
from mdi.events import BBO, EventBase, Side, Trade
from mdi.timeutil import parse_rfc3339_ns
from mdi.validate import MIN_TIMESTAMP_NS, quote, timestamp
from mdi.validate import trade as valid_trade
from mdi.transport import Frame

from mdi_kraken import wire
from mdi_kraken.tradeids import ID_LIMIT
from mdi_kraken.wire import Envelope, canonical_symbol

if TYPE_CHECKING:
    from mdi_kraken.connector import KrakenConnector

SIDES: dict[str, Side] = {"buy": "buy", "sell": "sell"}

# For a value > 0, mdi.validate's sane magnitude (adjusted exponent within +-30) is exactly
# 1E-30 <= value < 1E+31; Decimal comparisons are exact, so one chained comparison per value
# tells a good price or size. A value outside (or NaN, which raises) gets the general checks.
_LOWEST = Decimal("1E-30")
_BEYOND = Decimal("1E+31")


def _sane_quote(bid: Decimal, bid_qty: Decimal, ask: Decimal, ask_qty: Decimal) -> bool:
    """True only for a quote :func:`mdi.validate.quote` accepts: prices in range, sizes zero or
    in range. False means "ask ``quote``" (it names the reason, or accepts after all)."""
    try:
        return (_LOWEST <= bid < _BEYOND and _LOWEST <= ask < _BEYOND
                and (not bid_qty or _LOWEST <= bid_qty < _BEYOND) and (not ask_qty or _LOWEST <= ask_qty < _BEYOND))
    except ArithmeticError:  # NaN compared
        return False


ChannelHandler = Callable[[Envelope, int, list[EventBase]], bool]


def sub_key(channel: str, symbol: str) -> str:
    """Subscription key used for acks, rejections and /health: ``ticker:BTC-USD``."""
    return f"{channel}:{symbol}"


class KrakenSession(VenueSession):
    """Protocol state of one connection (a fresh one after every reconnect)."""

    connector: KrakenConnector

    def __init__(self, connector: KrakenConnector, ctx: ConnectorContext) -> None:
        super().__init__(connector, ctx)
        self.cfg = connector.config
        self.venue = connector.venue
        self._req_id = 0
        # req_id -> (channel, canonical symbols) of each subscribe request sent
        self._requests: dict[int, tuple[str, list[str]]] = {}
        self.expected: set[str] = set()
        self._ping_after_ns = int(self.cfg.ping_after * NS)
        self._last_frame_ns = ctx.clock()
        self._last_ping_ns = 0
        self._latency_recv_ns: dict[str, int] = {}  # channel -> recv_ns of its last latency sample
        # _trades' memory of the previous trade (pair as sent, canonical, dedup key offset; the
        # first 19 characters of its time and their whole second). Until the first trade: a pair
        # no str equals, a prefix longer than any timestamp of the shape that uses it.
        self._pair: str | None = None
        self._symbol, self._offset = "", 0
        self._prefix, self._second_ns = "-" * 28, 0
        self._channels: dict[str, ChannelHandler] = {
            "ticker": self._on_ticker,
            "trade": self._on_trade,
            "heartbeat": self._on_heartbeat,
            "status": self._on_status,
        }

    # ----- outgoing ------------------------------------------------------------------------
    def _next_req_id(self) -> int:
        self._req_id += 1
        return self._req_id

    def opening_messages(self) -> list[str]:
        """One subscribe request per channel; Kraken acknowledges each pair separately."""
        messages: list[str] = []
        if self.cfg.bbo:
            messages.append(self._subscribe("ticker", event_trigger=self.cfg.event_trigger))
        if self.cfg.trades:
            messages.append(self._subscribe("trade", snapshot=self.cfg.trade_snapshot))
        return messages

    def _subscribe(self, channel: str, **params: str | bool) -> str:
        req_id = self._next_req_id()
        symbols = [canonical_symbol(s) for s in self.cfg.symbols]
        self._requests[req_id] = (channel, symbols)
        keys = {sub_key(channel, s) for s in symbols}
        self.expected |= keys
        self.pending_acks |= keys
        return wire.subscribe_request(channel, list(self.cfg.symbols), req_id, **params)  # type: ignore[arg-type]

    def periodic(self, now_ns: int) -> None:
        """Application ping when the link has been silent for ``ping_after`` (once per interval)."""
        after = self._ping_after_ns
        if not after or now_ns - self._last_frame_ns < after or now_ns - self._last_ping_ns < after:
            return
        self._last_ping_ns = now_ns
        self.outbox.append(wire.ping_request(self._next_req_id()))
        self.connector.pings_sent += 1

    # ----- incoming ------------------------------------------------------------------------
    def on_frame(self, frame: Frame, recv_ns: int, out: list[EventBase]) -> bool:
        self._last_frame_ns = recv_ns
        try:
            data = wire.DATA_FRAME.decode(frame)  # ticker and trade frames: one pass
        except msgspec.DecodeError:  # includes ValidationError: not a well-formed data frame
            return self._on_other_frame(frame, recv_ns, out)
        if isinstance(data, wire.TickerFrame):
            return self._tickers(data.data, data.type, recv_ns, out)
        return self._trades(data.data, data.type, recv_ns, out)

    def _on_other_frame(self, frame: Frame, recv_ns: int, out: list[EventBase]) -> bool:
        """Everything but a well-formed data frame: dispatch on the envelope's exact keys."""
        try:
            env = wire.ENVELOPE.decode(frame)
        except msgspec.ValidationError:
            raise
        except msgspec.DecodeError as exc:  # e.g. "CloudFlare WebSocket proxy restarting"
            raise MalformedFrame(f"not JSON: {frame[:80]!r}") from exc
        if env.channel is not None:
            handler = self._channels.get(env.channel)
            if handler is None:
                return self._on_other_channel(env.channel)
            return handler(env, recv_ns, out)
        if env.method is not None:
            self._on_method(env)
            return False
        if env.error is not None:
            self._venue_error("", env)
            return False
        raise MalformedFrame("frame has neither 'channel' nor 'method'")

    def _on_ticker(self, env: Envelope, recv_ns: int, out: list[EventBase]) -> bool:
        return self._tickers(wire.TICKER_DATA.decode(env.data), env.type, recv_ns, out)

    def _tickers(self, items: list[wire.TickerData], kind: str | None, recv_ns: int, out: list[EventBase]) -> bool:
        sample: int | None = None
        got = False  # a valid BBO (placeholders are not data: they must not hold off staleness)
        venue = self.venue
        for item in items:
            text = item.timestamp
            ts = parse_rfc3339_ns(text) if text is not None else None
            symbol = canonical_symbol(item.symbol)
            bid, bid_qty, ask, ask_qty = item.bid, item.bid_qty, item.ask, item.ask_qty
            if not _sane_quote(bid, bid_qty, ask, ask_qty):
                reason, field, value = quote(bid, bid_qty, ask, ask_qty)
                if reason:  # e.g. Kraken's 0/0 ticker stamped 1970-01-01: not a BBO
                    self.invalid(reason, field, value, out, symbol, recv_ns)
                    continue
            if ts is not None:
                if ts < MIN_TIMESTAMP_NS:  # validate.timestamp: a placeholder time is no venue time
                    ts = None  # (and no latency sample)
                else:
                    sample = ts
            got = True
            out.append(BBO(venue=venue, symbol=symbol, ts_recv=recv_ns, ts_exchange=ts,
                           bid_px=bid, bid_sz=bid_qty, ask_px=ask, ask_sz=ask_qty))
        if sample is not None and kind == "update":
            self._observe_latency("ticker", recv_ns, sample)
        return got

    def _on_trade(self, env: Envelope, recv_ns: int, out: list[EventBase]) -> bool:
        return self._trades(wire.TRADE_DATA.decode(env.data), env.type, recv_ns, out)

    def _trades(self, items: list[wire.TradeData], kind: str | None, recv_ns: int, out: list[EventBase]) -> bool:
        """Per trade, in order: symbol, time, validation (price, qty, then time), de-duplication,
        gap check, event. The common case (good values, the next id of the pair) runs inline;
        anything else takes the general calls, so every outcome is the one they give."""
        if kind == "snapshot":
            # Gap checks need ascending ids; the snapshot's order is not a documented promise.
            items = sorted(items, key=lambda t: t.trade_id)
        connector = self.connector
        recent = connector.recent_trades
        seen_key = recent.seen_key
        gaps = connector.trade_gaps if self.cfg.trade_gap_check else None
        last_id = gaps.last_id if gaps is not None else {}
        last_ns = gaps.last_ns if gaps is not None else {}
        venue = self.venue
        append = out.append
        # What the previous trade had, kept across frames: its pair as sent, canonical, and the
        # pair's dedup key offset; its time's first 19 characters and their whole second (ns).
        pair, symbol, offset = self._pair, self._symbol, self._offset
        prefix, second_ns = self._prefix, self._second_ns
        sample: int | None = None  # venue time of the last valid trade: the latency sample
        for item in items:
            if item.symbol != pair:
                symbol = canonical_symbol(item.symbol)
                offset = recent.offset(symbol)
                pair = item.symbol
            text = item.timestamp
            if len(text) == 27 and text[19] == "." and text[26] == "Z" and (digits := text[20:26]).isdigit():
                # Kraken's shape (microseconds), with the second of the previous trade in a local
                if not text.startswith(prefix):
                    second_ns = parse_rfc3339_ns(text) - int(digits) * 1000
                    prefix = text[:19]
                ts = second_ns + int(digits) * 1000
            else:
                ts = parse_rfc3339_ns(text)
            price, qty = item.price, item.qty
            try:  # validate.trade's checks for a good trade: 1E-30 <= value < 1E+31
                good = _LOWEST <= price < _BEYOND and _LOWEST <= qty < _BEYOND and ts >= MIN_TIMESTAMP_NS
            except ArithmeticError:  # NaN compared: the general checks name the reason
                good = False
            if not good:
                reason, field, value = valid_trade(price, qty, "price", "qty")
                if not reason and timestamp(ts):
                    reason, field, value = timestamp(ts), "timestamp", item.timestamp
                if reason:
                    self.invalid(reason, field, value, out, symbol, recv_ns)
                    continue
            sample = ts
            trade_id = item.trade_id
            # PairTradeIds.key, inline
            if seen_key(offset + trade_id if 0 <= trade_id < ID_LIMIT else recent.key(symbol, trade_id)):
                self.stats.duplicates += 1
                continue
            if gaps is not None:
                last = last_id.get(symbol)
                if last is not None and trade_id == last + 1:  # TradeIdGaps.observe without a hole
                    last_id[symbol] = trade_id
                    last_ns[symbol] = ts
                else:
                    self._check_trade_gap(symbol, trade_id, ts, recv_ns, out)
            side = item.side  # SIDES.get(side, "unknown") without hashing the decoded string
            append(Trade(venue=venue, symbol=symbol, ts_recv=recv_ns, ts_exchange=ts, trade_id=str(trade_id),
                         price=price, size=qty,
                         side="buy" if side == "buy" else "sell" if side == "sell" else "unknown"))
        self._pair, self._symbol, self._offset = pair, symbol, offset
        self._prefix, self._second_ns = prefix, second_ns
        if sample is not None and kind == "update":  # snapshot trades are old: not a latency sample
            self._observe_latency("trade", recv_ns, sample)
        return sample is not None

    def _check_trade_gap(self, symbol: str, trade_id: int, ts: int, recv_ns: int, out: list[EventBase]) -> None:
        """A jump in the per-pair ``trade_id`` sequence means trades were missed: a hole for the
        connector's backfiller, which writes the gap row once it has tried REST."""
        connector = self.connector
        hole = connector.trade_gaps.observe(symbol, trade_id, ts, recv_ns)
        if hole is None:
            return
        self.stats.gaps += 1
        assert connector.backfiller is not None
        connector.backfiller.report(hole, recv_ns, out)
        self.ctx.log.warning(
            "trade_id gap",
            extra={"venue": self.ctx.name, "symbol": symbol, "expected": hole.after_id + 1, "received": trade_id},
        )

    def _observe_latency(self, channel: str, recv_ns: int, ts_exchange: int) -> None:
        """One sample per channel per receive burst: every frame of a burst shares ``recv_ns``,
        and at full speed a histogram update per frame would cost more than parsing the frame."""
        if self._latency_recv_ns.get(channel) == recv_ns:
            return
        self._latency_recv_ns[channel] = recv_ns
        self.stats.exchange_latency.observe_one_ns(max(0, recv_ns - ts_exchange))

    def _on_heartbeat(self, env: Envelope, recv_ns: int, out: list[EventBase]) -> bool:
        return False

    def _on_status(self, env: Envelope, recv_ns: int, out: list[EventBase]) -> bool:
        """Log the venue's system state; ``connection_id`` is above 2**63, read as a Python int."""
        for item in wire.STATUS_DATA.decode(env.data):
            connection_id = wire.raw_int(item.connection_id)
            self.connector.system_status = item.system
            self.connector.connection_id = connection_id
            level = self.ctx.log.info if item.system == "online" else self.ctx.log.warning
            level(
                "kraken status",
                extra={
                    "venue": self.ctx.name,
                    "system": item.system,
                    "api_version": item.api_version,
                    "version": item.version,
                    "connection_id": connection_id,
                },
            )
        return False

    def _on_other_channel(self, channel: str) -> bool:
        """Channels this connector never subscribes to (``book``, ``ohlc``...) are ignored."""
        self.connector.ignored_frames += 1
        self.stats.ignored += 1
        return False

    # ----- method replies ------------------------------------------------------------------
    def _on_method(self, env: Envelope) -> None:
        method = env.method
        if method == "pong":
            self.connector.pongs += 1
        elif method == "subscribe":
            if env.success:
                self._on_subscribed(env)
            else:
                self._on_rejected(env)
        elif env.success is False:
            self._venue_error(method or "", env)

    def _on_subscribed(self, env: Envelope) -> None:
        result = wire.SUBSCRIBE_RESULT.decode(env.result)
        key = sub_key(result.channel, canonical_symbol(result.symbol))
        if key not in self.expected:
            self.ctx.log.info("acknowledgement for a subscription not requested", extra={"venue": self.ctx.name, "subscription": key})
            return
        self.acknowledge(key)
        if result.warnings:
            self.ctx.log.warning("subscription warnings", extra={"venue": self.ctx.name, "subscription": key, "warnings": result.warnings})

    def _on_rejected(self, env: Envelope) -> None:
        reason = env.error or "subscription rejected"
        for key in self._rejected_keys(env):
            self.reject(key, reason)

    def _rejected_keys(self, env: Envelope) -> list[str]:
        """Map a rejection (no ``result``) back to subscriptions through ``req_id`` and ``symbol``."""
        symbol = canonical_symbol(env.symbol) if env.symbol else None
        request = self._requests.get(env.req_id) if env.req_id is not None else None
        if request is not None:
            channel, symbols = request
            keys = [sub_key(channel, s) for s in symbols if symbol is None or s == symbol]
        else:
            keys = sorted(k for k in self.pending_acks if symbol is not None and k.split(":", 1)[1] == symbol)
        pending = [k for k in keys if k in self.pending_acks]
        if pending or keys:
            return pending or keys
        # Nothing we asked for matches: still a refusal worth seeing in /health.
        return [f"subscribe:{symbol}" if symbol else f"subscribe(req_id={env.req_id})"]

    def _venue_error(self, method: str, env: Envelope) -> None:
        self.stats.last_error = f"{method or 'request'} failed: {env.error}"
        self.ctx.log.warning("kraken request failed", extra={"venue": self.ctx.name, "method": method, "error": env.error, "req_id": env.req_id})
