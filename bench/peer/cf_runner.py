"""Run cryptofeed against a loopback venue: ``python cf_runner.py VENUE URL MODE [REDIS_PORT]``.

Runs inside cryptofeed's own venv (``bench.peer.run`` creates it), so it imports nothing from
mdi. What it changes, from outside cryptofeed's files: the ``wss://``-only check of its
WebSocket connection (the loopback venue is ``ws://``), the symbol table its feeds would fetch
over REST at start (filled in beforehand, offline), the endpoint address (the loopback one), and
Coinbase's demand for API keys (a dummy pair: the loopback venue checks no signature). uvloop
needs an event loop set before ``FeedHandler.run()``.

MODE ``noop``: an async callback that counts (the least a user can attach). MODE ``redis``:
cryptofeed's own ``TradeRedis``/``FundingRedis`` backend (a ZADD per event). On SIGTERM it
prints ``{"events": N}`` and exits.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import cryptofeed.connection as cf_connection
from cryptofeed import FeedHandler
from cryptofeed.defines import FUNDING, TRADES
from cryptofeed.symbols import Symbols

COUNT = {"events": 0}


def _allow_ws() -> None:
    original = cf_connection.WSAsyncConn.__init__

    def init(self, address, conn_id, authentication=None, subscription=None, **kwargs):  # type: ignore[no-untyped-def]
        secure = "wss://" + address[len("ws://"):] if address.startswith("ws://") else address
        original(self, secure, conn_id, authentication=authentication, subscription=subscription, **kwargs)
        self.address = address

    cf_connection.WSAsyncConn.__init__ = init


def _feed(venue: str, url: str):  # type: ignore[no-untyped-def]
    from cryptofeed.connection import WebsocketEndpoint

    if venue == "coinbase":
        from cryptofeed.exchanges import Coinbase as Base

        Symbols.set(Base.id, {"BTC-USD": "BTC-USD"}, {"tick_size": {"BTC-USD": "0.01"}, "instrument_type": {"BTC-USD": "spot"}})
        channel, symbol, config = TRADES, "BTC-USD", {"coinbase": {"key_id": "dummy", "key_secret": "dummy"}}
    elif venue == "binance":
        from cryptofeed.exchanges import BinanceFutures as Base

        Symbols.set(Base.id, {"BTC-USDT-PERP": "BTCUSDT"}, {"tick_size": {"BTC-USDT-PERP": "0.1"}, "instrument_type": {"BTC-USDT-PERP": "perpetual"}})
        channel, symbol, config = FUNDING, "BTC-USDT-PERP", {}
    elif venue == "deribit":
        from cryptofeed.defines import TICKER
        from cryptofeed.exchanges import Deribit as Base

        name = "BTC-25DEC26-100000-C"
        Symbols.set(Base.id, {name: name}, {"instrument_type": {name: "option"}})
        channel, symbol, config = TICKER, name, {"deribit": {"key_id": "dummy", "key_secret": "dummy"}}
    elif venue == "kraken":
        from cryptofeed.exchanges import Kraken as Base

        Symbols.set(Base.id, {"BTC-USD": "XBT/USD"}, {"instrument_type": {"BTC-USD": "spot"}})
        channel, symbol, config = TRADES, "BTC-USD", {}
    else:
        raise SystemExit(f"cf_runner: no cryptofeed feed for {venue!r}")

    class Loopback(Base):  # type: ignore[misc, valid-type]
        websocket_endpoints = [WebsocketEndpoint(url, options={"compression": None})]

    return Loopback, channel, symbol, config


async def _count(*_args) -> None:  # type: ignore[no-untyped-def]
    COUNT["events"] += 1


def main() -> None:
    venue, url, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    _allow_ws()
    cls, channel, symbol, config = _feed(venue, url)
    if mode == "redis":
        from cryptofeed.backends.redis import FundingRedis, TickerRedis, TradeRedis

        backend = {TRADES: TradeRedis, FUNDING: FundingRedis}.get(channel, TickerRedis)
        callbacks = {channel: backend(host="127.0.0.1", port=int(sys.argv[4]))}
    else:
        callbacks = {channel: _count}
    asyncio.set_event_loop(asyncio.new_event_loop())
    fh = FeedHandler(config={"log": {"filename": "/tmp/cf-runner.log", "level": "DEBUG"} if "--debug" in sys.argv else {"disabled": True}, **config})
    fh.add_feed(cls(symbols=[symbol], channels=[channel], callbacks=callbacks, config=config))
    loop = asyncio.get_event_loop()

    def stop(*_: object) -> None:
        print(json.dumps(COUNT), flush=True)
        loop.stop()

    loop.add_signal_handler(signal.SIGTERM, stop)
    fh.run(start_loop=True, install_signal_handlers=False)


if __name__ == "__main__":
    main()
