"""The benchmark's venue process: the four simulators, Kraken blasted, the others at demo rates.

Run by ``python -m bench`` as ``python -m bench.simproc``; it prints one JSON line with the
simulators' URLs, then obeys one command per stdin line and answers each with one JSON line:

- ``blast <rate>``: start sending Kraken frames to the subscribed client, ``rate`` events/s
  (``0``: as fast as the client takes them); answers once the blast has started.
- ``stop``: stop the blast; answers the frames and events sent so far (``snapshot_events`` are the
  BBOs of the ticker snapshots Kraken sends after each subscribe: data the client receives too).
- ``quit`` (or end of input): stop everything and exit.

Coinbase, Deribit and Binance stream their ``demo_frames`` at ``--background-rate`` frames/s each
for the whole run, so both pipelines have their inputs and every connector is live.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from contextlib import AsyncExitStack
from typing import Any

import anyio
from websockets.asyncio.server import ServerConnection

from bench.blaster import Blaster, kraken_pool
from mdi.testing.sim import VenueSimulator
from mdi_binance.sim import BinanceSimulator
from mdi_coinbase.sim import CoinbaseSimulator
from mdi_deribit.plugin import make_simulator
from mdi_kraken.sim import KrakenSimulator


class CountingKrakenSimulator(KrakenSimulator):
    """Counts the BBOs of the ticker snapshots it sends, so the lossless check can add them."""

    snapshot_events = 0

    async def _send_snapshot(self, conn: ServerConnection, channel: str, symbol: str, wanted: bool) -> None:
        if channel == "ticker" and not self.stalled:
            self.snapshot_events += 1
        await super()._send_snapshot(conn, channel, symbol, wanted)


async def read_lines() -> asyncio.StreamReader:
    """stdin as an asyncio stream (cancellable, no thread blocked in ``readline``)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def reply(body: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(body) + "\n")
    sys.stdout.flush()


class Controller:
    def __init__(self, kraken: CountingKrakenSimulator) -> None:
        self.kraken = kraken
        self.blaster = Blaster(kraken, kraken_pool())
        self.stop = asyncio.Event()
        self.done = asyncio.Event()
        self.done.set()  # nothing running yet: "stop" answers at once

    def counts(self) -> dict[str, Any]:
        b = self.blaster
        return {"frames": b.frames, "events": b.events, "snapshot_events": self.kraken.snapshot_events,
                "error": b.error, "connections": self.kraken.connect_count}

    async def blast(self, rate: float, tg: anyio.abc.TaskGroup) -> None:
        await self.kraken.wait_subscribed(timeout=30)
        self.stop, self.done = asyncio.Event(), asyncio.Event()

        async def run() -> None:
            try:
                await self.blaster.run(rate, self.stop)
            finally:
                self.done.set()

        tg.start_soon(run)
        reply({"ok": True, **self.counts()})

    async def halt(self) -> None:
        self.stop.set()
        await self.done.wait()
        reply(self.counts())


async def main(background_rate: float) -> None:
    async with AsyncExitStack() as stack:
        kraken = CountingKrakenSimulator(heartbeat_interval=1.0)
        others: dict[str, VenueSimulator] = {
            "coinbase": CoinbaseSimulator(), "deribit": make_simulator(), "binance": BinanceSimulator(),
        }
        sims: dict[str, VenueSimulator] = {"kraken": kraken, **others}
        for sim in sims.values():
            await stack.enter_async_context(sim)
        reply({"urls": {name: sim.sim_url() for name, sim in sims.items()}})
        control = Controller(kraken)
        lines = await read_lines()
        async with anyio.create_task_group() as tg:
            for sim in others.values():
                tg.start_soon(sim.stream_demo, background_rate)
            while line := (await lines.readline()).decode().strip():
                command, _, arg = line.partition(" ")
                if command == "blast":
                    await control.blast(float(arg or 0), tg)
                elif command == "stop":
                    await control.halt()
                elif command == "counts":
                    reply(control.counts())
                elif command == "quit":
                    break
                else:
                    reply({"error": f"unknown command {line!r}"})
            control.stop.set()
            tg.cancel_scope.cancel()


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.simproc", description=__doc__.split("\n")[0])
    parser.add_argument("--background-rate", type=float, default=20.0, help="frames/s of each non-blasted venue")
    args = parser.parse_args()
    anyio.run(main, args.background_rate, backend="asyncio")


if __name__ == "__main__":
    cli()
