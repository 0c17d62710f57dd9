"""The connector's hot path alone, in one process: ``python -m bench.hot [VENUE ...] [--profile]``.

The peer benchmark's frames (:mod:`bench.peer.venues`, the same bytes the blast server sends,
without their WebSocket header) go through a fresh session's ``on_frame`` exactly as the
connector loop calls it, and nothing else runs: no sockets, no router. What it prints is the
parse cost per event of each venue, the part of ``mdi-ingest`` a session controls. It is a tool
for working on a parser (compare two versions in one run; ``--profile`` shows where the time
goes); the figures that count are the peer benchmark's, end to end.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from typing import Any

import msgspec

from bench.peer.venues import SUBSCRIBE, VENUES, Session
from mdi.connector import PARSE_ERRORS, InvalidFrame, VenueSession
from mdi.events import EventBase
from mdi.plugins import build_plugin_host
from mdi.testing.harness import ConnectorHarness

T_RECV_NS = 1_767_225_600_000_000_000


def payload(frame: bytes) -> bytes:
    """The payload of one unmasked server frame (header as :func:`bench.blaster.ws_text_frame` writes it)."""
    n = frame[1] & 0x7F
    return frame[2 + (2 if n == 126 else 8 if n == 127 else 0):]


def frames_for(venue: str, events: int) -> tuple[list[bytes], list[bytes], int]:
    """``(replies, blast, events)``: what the server answers the mdi client's subscriptions
    (acknowledgements, fed untimed), then the blast of ``events`` events."""
    v = VENUES[venue]
    session = Session(path="/market/stream" if venue == "binance" else "/")
    replies = [t.encode() for t in v.on_connect(session)]
    for text in SUBSCRIBE[venue]:
        replies += [t.encode() for t in v.on_message(session, text)]
    framed, made = v.blast(session, events, "mdi")
    return replies, [payload(f) for f in framed], made


def new_session(venue: str, replies: list[bytes]) -> tuple[ConnectorHarness, VenueSession]:
    """A session of the venue's connector, configured as the peer benchmark configures mdi,
    that has sent its subscriptions and read the server's replies."""
    registered = build_plugin_host().spec("connector", venue)
    assert registered is not None, f"no connector plugin {venue!r}"
    spec: Any = registered.spec
    cfg = msgspec.convert(VENUES[venue].mdi_section("ws://127.0.0.1:1/"), spec.config_type)
    harness = ConnectorHarness(spec.factory(cfg))
    session = harness.session()
    session.opening_messages()
    parse_all(session, replies)
    return harness, session


def parse_all(session: VenueSession, frames: list[bytes]) -> int:
    """The loop's per-frame work (``WsConnector._stream``), minus the awaits: events produced."""
    events: list[EventBase] = []
    for frame in frames:
        session.frame = frame
        try:
            session.on_frame(frame, T_RECV_NS, events)
        except InvalidFrame as exc:
            session.invalid(exc.reason, exc.field, exc.value, events, exc.symbol, T_RECV_NS)
        except PARSE_ERRORS:
            session.stats.parse_errors += 1
    return len(events)


def measure(venue: str, events: int, repeats: int) -> dict[str, Any]:
    replies, frames, made = frames_for(venue, events)
    best = float("inf")
    produced = 0
    for _ in range(repeats):
        _, session = new_session(venue, replies)
        t0 = time.process_time_ns()
        produced = parse_all(session, frames)
        best = min(best, time.process_time_ns() - t0)
        if session.stats.parse_errors:
            raise RuntimeError(f"{venue}: {session.stats.parse_errors} frames failed to parse")
    return {"venue": venue, "frames": len(frames), "events": made, "produced": produced,
            "us_per_event": best / 1000 / made, "us_per_frame": best / 1000 / len(frames)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.hot", description=__doc__.split("\n\n")[0])
    ap.add_argument("venues", nargs="*", default=list(VENUES))
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5, help="best of N (CPU time of this process)")
    ap.add_argument("--profile", action="store_true", help="cProfile one pass per venue, top 25 by own time")
    args = ap.parse_args(argv)
    for venue in args.venues:
        if args.profile:
            replies, frames, _ = frames_for(venue, args.events)
            _, session = new_session(venue, replies)
            prof = cProfile.Profile()
            prof.runcall(parse_all, session, frames)
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
            continue
        r = measure(venue, args.events, args.repeats)
        print(f"{venue:<9} {r['events']:>8} events {r['frames']:>8} frames  {r['us_per_event']:6.3f} us/event"
              f"  {r['us_per_frame']:6.3f} us/frame  produced {r['produced']}")


if __name__ == "__main__":
    main()
