"""The raw ceiling: ``python -m bench.peer.raw VENUE URL``.

picows receives the blast and msgspec decodes every frame into the venue's own wire Structs (the
decoders the mdi connector uses), nothing else: no events, no router, no sinks. Whatever a
recorder built on these two libraries does on top costs from here; the full graph's events/s as
a fraction of this number is the calibration that travels between machines. Prints
``{"events": N}`` on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any, Callable

import picows

from bench.peer.venues import SUBSCRIBE


def _decoder(venue: str) -> Callable[[bytes], int]:
    """Frame -> number of market-data events it carried (0 for acks and heartbeats)."""
    if venue == "coinbase":
        from mdi_coinbase import wire as cb

        def coinbase(frame: bytes) -> int:
            env = cb.ENVELOPE.decode(frame)
            if env.channel != "market_trades":
                return 0
            return sum(len(e.trades) for e in cb.TRADES_EVENTS.decode(env.events))

        return coinbase
    if venue == "binance":
        from mdi_binance import wire as bn

        def binance(frame: bytes) -> int:
            env: Any = bn.ENVELOPE.decode(frame)
            if isinstance(env, list):
                return len(env)
            if not env.data:  # an ack: {"result": null, "id": 1}
                return 0
            payload = bn.PAYLOAD.decode(env.data)
            return len(payload) if isinstance(payload, list) else 1

        return binance
    if venue == "deribit":
        from mdi_deribit import wire as dr

        def deribit(frame: bytes) -> int:
            env = dr.ENVELOPE.decode(frame)
            if env.method != "subscription" or env.params is None:
                return 0
            dr.TICKER.decode(env.params.data)
            return 1

        return deribit
    if venue == "kraken":
        from mdi_kraken import wire as kr

        def kraken(frame: bytes) -> int:
            try:
                data = kr.DATA_FRAME.decode(frame)
            except Exception:  # noqa: BLE001 - acks and pongs: the envelope, like the session
                kr.ENVELOPE.decode(frame)
                return 0
            return len(data.data)

        return kraken
    raise SystemExit(f"raw: no decoder for {venue!r}")


class Listener(picows.WSListener):  # type: ignore[misc]
    def __init__(self, venue: str) -> None:
        self.decode = _decoder(venue)
        self.venue = venue
        self.events = 0

    def on_ws_connected(self, transport: picows.WSTransport) -> None:
        for text in SUBSCRIBE[self.venue]:
            transport.send(picows.WSMsgType.TEXT, text.encode())

    def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
        if frame.msg_type is picows.WSMsgType.TEXT:
            self.events += self.decode(frame.get_payload_as_memoryview())  # type: ignore[arg-type]  # msgspec takes any buffer
        elif frame.msg_type is picows.WSMsgType.PING:
            transport.send_pong(frame.get_payload_as_bytes())


async def main(venue: str, url: str) -> None:
    listener = Listener(venue)
    transport, _ = await picows.ws_connect(lambda: listener, url, max_frame_size=1 << 26)
    done = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, done.set)
    await done.wait()
    print(json.dumps({"events": listener.events}), flush=True)
    transport.disconnect()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
