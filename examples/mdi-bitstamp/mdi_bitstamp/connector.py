"""The Bitstamp connector: mdi's reconnect loop plus one :class:`BitstampSession` per connection.

Per connection: one ``bts:subscribe`` per channel (``live_trades_<pair>``, ``order_book_<pair>``),
each key waiting in ``pending_acks`` until its ``bts:subscription_succeeded``; a ``bts:error``
while subscriptions are pending rejects them (Bitstamp's error names no channel); a
``bts:request_reconnect`` ends the session (:class:`SessionError`) so the loop reconnects at
once with a fresh session. The trade ids seen live on the connector, so trades repeated across
a reconnect are dropped and counted (``mdi_venue_duplicates_total``).
"""

from __future__ import annotations

from collections import Counter

from mdi.api import (
    BBO,
    ConnectorContext,
    EventBase,
    Frame,
    RecentIds,
    SessionError,
    Trade,
    VenueSession,
    WsConnector,
)

from mdi_bitstamp import wire
from mdi_bitstamp.config import BitstampConfig, pair_of

NS_PER_US = 1_000
TRADES_PREFIX = "live_trades_"
BOOK_PREFIX = "order_book_"


class BitstampConnector(WsConnector[BitstampConfig]):
    """``ignored`` counts frames deliberately not turned into events, by reason."""

    venue = "bitstamp"

    def __init__(self, config: BitstampConfig) -> None:
        super().__init__(config)
        self.recent_trades = RecentIds(config.dedup_capacity)
        self.ignored: Counter[str] = Counter()
        self.symbol_of = {pair_of(s): s for s in config.symbols}

    def new_session(self, ctx: ConnectorContext) -> VenueSession:
        return BitstampSession(self, ctx)


class BitstampSession(VenueSession):
    connector: BitstampConnector

    def __init__(self, connector: BitstampConnector, ctx: ConnectorContext) -> None:
        super().__init__(connector, ctx)
        self.cfg = connector.config
        self.next_heartbeat_ns = 0
        self.heartbeats = 0

    def opening_messages(self) -> list[str]:
        channels: list[str] = []
        for pair in self.connector.symbol_of:
            if self.cfg.trades:
                channels.append(TRADES_PREFIX + pair)
            if self.cfg.bbo:
                channels.append(BOOK_PREFIX + pair)
        self.pending_acks.update(channels)
        return [wire.subscribe(c) for c in channels]

    def on_frame(self, frame: Frame, recv_ns: int, out: list[EventBase]) -> bool:
        env = wire.ENVELOPE.decode(frame)
        event = env.event
        if event == "trade" and env.channel.startswith(TRADES_PREFIX):
            return self._on_trade(env, recv_ns, out)
        if event == "data" and env.channel.startswith(BOOK_PREFIX):
            return self._on_book(env, recv_ns, out)
        if event == "bts:subscription_succeeded":
            self.acknowledge(env.channel)
        elif event == "bts:heartbeat":
            self.heartbeats += 1
        elif event == "bts:error":
            self._on_error(wire.ERROR.decode(env.data))
        elif event == "bts:request_reconnect":
            raise SessionError("bitstamp asked for a reconnect (bts:request_reconnect)")
        else:
            self.connector.ignored[f"event:{event}"] += 1
        return False

    def _symbol(self, channel: str, prefix: str) -> str | None:
        symbol = self.connector.symbol_of.get(channel[len(prefix):])
        if symbol is None:
            self.connector.ignored[f"channel:{channel}"] += 1
        return symbol

    def _on_trade(self, env: wire.Envelope, recv_ns: int, out: list[EventBase]) -> bool:
        symbol = self._symbol(env.channel, TRADES_PREFIX)
        if symbol is None:
            return False
        t = wire.TRADE.decode(env.data)
        if self.connector.recent_trades.seen((symbol, t.id)):
            self.stats.duplicates += 1
            return True
        ts = int(t.microtimestamp) * NS_PER_US
        self.stats.exchange_latency.observe_ns((max(0, recv_ns - ts),))
        out.append(
            Trade(
                venue="bitstamp", symbol=symbol, ts_recv=recv_ns, ts_exchange=ts, trade_id=str(t.id),
                price=t.price_str, size=t.amount_str, side="buy" if t.type == 0 else "sell" if t.type == 1 else "unknown",
            )
        )
        return True

    def _on_book(self, env: wire.Envelope, recv_ns: int, out: list[EventBase]) -> bool:
        symbol = self._symbol(env.channel, BOOK_PREFIX)
        if symbol is None:
            return False
        book = wire.BOOK.decode(env.data)
        if not book.bids or not book.asks:
            self.connector.ignored["book_side_empty"] += 1
            return True  # the venue is talking: it is data, just no top of book to report
        ts = int(book.microtimestamp) * NS_PER_US
        self.stats.exchange_latency.observe_ns((max(0, recv_ns - ts),))
        (bid_px, bid_sz), (ask_px, ask_sz) = book.bids[0], book.asks[0]
        out.append(
            BBO(venue="bitstamp", symbol=symbol, ts_recv=recv_ns, ts_exchange=ts, bid_px=bid_px, bid_sz=bid_sz, ask_px=ask_px, ask_sz=ask_sz)
        )
        return True

    def _on_error(self, error: wire.ErrorData) -> None:
        """Bitstamp's errors name no channel: reject whatever is still pending, else reconnect."""
        reason = error.message or "bts:error"
        if self.pending_acks:
            for key in sorted(self.pending_acks):
                self.reject(key, reason)
            return
        raise SessionError(f"bitstamp error: {reason}")

    def periodic(self, now_ns: int) -> None:
        """``bts:heartbeat`` every ``heartbeat_interval`` s keeps an idle connection open."""
        if now_ns >= self.next_heartbeat_ns:
            self.next_heartbeat_ns = now_ns + int(self.cfg.heartbeat_interval * 1e9)
            self.outbox.append(wire.HEARTBEAT_REQUEST)
