"""The blast server: ``python -m bench.peer.server VENUE EVENTS``, one client, one blast.

Prints ``{"port": P}`` once listening. For the first client: answers its requests as the venue
would (:mod:`bench.peer.venues`); once the client has subscribed its data channel and gone quiet
for ``SETTLE_S``, builds the blast and writes it as fast as the client reads (the asyncio
transport's high-water mark, then ``drain``), and prints ``{"first_ns", "sent_ns", "frames",
"events"}``. ``sent_ns`` is when the last byte left for the kernel, not when the client had
processed it: the orchestrator watches the client's CPU for that.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from bench.peer.venues import VENUES, Session, Venue

SETTLE_S = 0.5
CHUNK = 256
HIGH_WATER = 1 << 20


def _say(doc: dict[str, Any]) -> None:
    print(json.dumps(doc), flush=True)


class Blast:
    def __init__(self, venue: Venue, events: int, client: str) -> None:
        self.venue = venue
        self.events = events
        self.client = client
        self.done = asyncio.Event()
        self.started = False

    async def handle(self, conn: ServerConnection) -> None:
        if self.started:
            await conn.close()
            return
        self.started = True
        session = Session(path=conn.request.path if conn.request is not None else "/")
        for text in self.venue.on_connect(session):
            await conn.send(text)
        last = time.monotonic()
        try:
            while True:
                timeout = SETTLE_S - (time.monotonic() - last) if session.data_subscribed else None
                text: str | bytes | None = None
                if timeout is None or timeout > 0:
                    try:
                        text = await asyncio.wait_for(conn.recv(), timeout)  # type: ignore[arg-type]
                    except TimeoutError:
                        pass
                if text is None:
                    break
                last = time.monotonic()
                for reply in self.venue.on_message(session, text if isinstance(text, str) else text.decode()):
                    await conn.send(reply)
            await self._blast(conn, session)
            await conn.wait_closed()
        finally:
            self.done.set()

    async def _blast(self, conn: ServerConnection, session: Session) -> None:
        frames, events = self.venue.blast(session, self.events, self.client)
        chunks = [b"".join(frames[i:i + CHUNK]) for i in range(0, len(frames), CHUNK)]
        transport: Any = conn.transport
        transport.set_write_buffer_limits(high=HIGH_WATER)
        first = time.time_ns()
        for chunk in chunks:
            transport.write(chunk)
            await conn.drain() if hasattr(conn, "drain") else await asyncio.sleep(0)
        _say({"first_ns": first, "sent_ns": time.time_ns(), "frames": len(frames), "events": events})


async def main(venue_name: str, events: int, client: str) -> None:
    blast = Blast(VENUES[venue_name], events, client)
    async with serve(blast.handle, "127.0.0.1", 0, max_size=None, ping_interval=None, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        _say({"port": port})
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the orchestrator closes stdin


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "mdi"))
