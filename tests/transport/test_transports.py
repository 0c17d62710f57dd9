"""Both WebSocket transports against the same real ``websockets`` server on 127.0.0.1.

The server's behaviour is chosen by the request path, so every test states what the peer does.
Nothing here is mocked: frames cross a real TCP socket, pings and closes are real control frames.
"""

from __future__ import annotations

import socket
from urllib.parse import quote, unquote
from contextlib import asynccontextmanager
from typing import AsyncIterator, Awaitable, Callable

import anyio
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed as WsClosed
from websockets.http11 import Response

from mdi.transport import ConnectionClosed, Frame, Transport, TransportError, get_transport
from mdi.transport.picows_transport import PicowsConnection, PicowsTransport

pytestmark = pytest.mark.anyio

TRANSPORTS = ["httpx-ws", "picows"]
MB = 1024 * 1024


def text_of(frame: Frame) -> str:
    """httpx-ws returns text frames as str, picows as UTF-8 bytes: compare as text."""
    return frame.decode() if isinstance(frame, bytes) else frame


class Peer:
    """A websockets server whose behaviour depends on the request path (see ``handle``)."""

    def __init__(self) -> None:
        self.port = 0
        self.received: list[str | bytes] = []
        self.sent = 0
        self.pongs = 0
        self.close_codes: list[int | None] = []

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    async def handle(self, conn: ServerConnection) -> None:
        path = conn.request.path if conn.request else "/"
        route, _, arg = unquote(path).partition("?")
        handler = ROUTES[route]
        try:
            await handler(self, conn, arg)
        except WsClosed:
            pass
        finally:
            self.close_codes.append(conn.close_code)

    @staticmethod
    def reject_some(conn: ServerConnection, request: object) -> Response | None:
        if getattr(request, "path", "") == "/reject":
            return conn.respond(404, "no such stream\n")
        return None


async def _echo(peer: Peer, conn: ServerConnection, arg: str) -> None:
    async for message in conn:
        peer.received.append(message)
        await conn.send(message)


async def _binary(peer: Peer, conn: ServerConnection, arg: str) -> None:
    await conn.send(b"\x00\x01\xff binary")
    await conn.send("text after binary")
    await conn.wait_closed()


async def _burst(peer: Peer, conn: ServerConnection, arg: str) -> None:
    for i in range(int(arg)):
        await conn.send(f"frame-{i}")
    await conn.wait_closed()


async def _large(peer: Peer, conn: ServerConnection, arg: str) -> None:
    await conn.send("a" * MB)
    await conn.send(bytes(range(256)) * (MB // 256))
    await conn.wait_closed()


async def _fragmented(peer: Peer, conn: ServerConnection, arg: str) -> None:
    await conn.send(["frag", "mented ", "text"])
    await conn.send([b"\x01\x02", b"\x03"])
    await conn.send("whole")
    await conn.wait_closed()


async def _close(peer: Peer, conn: ServerConnection, arg: str) -> None:
    code, _, reason = arg.partition(":")
    await conn.send("last words")
    await conn.close(int(code), reason)


async def _abort(peer: Peer, conn: ServerConnection, arg: str) -> None:
    await conn.send("before abort")
    await anyio.sleep(0.05)
    conn.transport.abort()


async def _server_ping(peer: Peer, conn: ServerConnection, arg: str) -> None:
    """Ping the client and wait for its pong before sending anything: the client must answer
    pings without being asked to receive."""
    pong_waiter = await conn.ping(b"are-you-there")
    with anyio.fail_after(3):
        await pong_waiter
    peer.pongs += 1
    await conn.send("pong seen")
    await conn.wait_closed()


async def _flood(peer: Peer, conn: ServerConnection, arg: str) -> None:
    count, _, size = arg.partition(":")
    payload = "x" * int(size)
    for i in range(int(count)):
        await conn.send(f"{i:08d}{payload}")
        peer.sent += 1
    await conn.wait_closed()


async def _trickle(peer: Peer, conn: ServerConnection, arg: str) -> None:
    for i in range(int(arg)):
        await conn.send(f"t{i}")
        if i % 3 == 0:
            await anyio.sleep(0.001)
    await conn.wait_closed()


ROUTES: dict[str, Callable[[Peer, ServerConnection, str], Awaitable[None]]] = {
    "/echo": _echo,
    "/binary": _binary,
    "/burst": _burst,
    "/large": _large,
    "/fragmented": _fragmented,
    "/close": _close,
    "/abort": _abort,
    "/ping": _server_ping,
    "/flood": _flood,
    "/trickle": _trickle,
}


@asynccontextmanager
async def running_peer() -> AsyncIterator[Peer]:
    peer = Peer()
    async with serve(
        peer.handle,
        "127.0.0.1",
        0,
        process_request=Peer.reject_some,
        ping_interval=None,
        max_size=None,
        compression=None,
        close_timeout=2,
    ) as server:
        peer.port = next(iter(server.sockets)).getsockname()[1]
        yield peer


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> Transport:
    return get_transport(request.param)


async def recv_n(ws: object, n: int, timeout: float = 5.0) -> tuple[list[Frame], int]:
    """Receive until ``n`` frames arrived; also return how many ``recv_batch`` calls it took."""
    got: list[Frame] = []
    calls = 0
    with anyio.fail_after(timeout):
        while len(got) < n:
            got.extend(await ws.recv_batch())  # type: ignore[attr-defined]
            calls += 1
    return got, calls


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ----- data frames ---------------------------------------------------------------------------


async def test_text_round_trip(transport: Transport) -> None:
    async with running_peer() as peer:
        async with transport.connect(peer.url("/echo"), open_timeout=3) as ws:
            await ws.send_text('{"method":"SUBSCRIBE","id":1}')
            await ws.send_text("héllo ✓")
            got, _ = await recv_n(ws, 2)
        assert [text_of(f) for f in got] == ['{"method":"SUBSCRIBE","id":1}', "héllo ✓"]
        assert peer.received == ['{"method":"SUBSCRIBE","id":1}', "héllo ✓"]


async def test_binary_frames_come_back_as_bytes(transport: Transport) -> None:
    async with running_peer() as peer:
        async with transport.connect(peer.url("/binary"), open_timeout=3) as ws:
            got, _ = await recv_n(ws, 2)
        assert got[0] == b"\x00\x01\xff binary"
        assert isinstance(got[0], bytes)
        assert text_of(got[1]) == "text after binary"


async def test_large_frames_of_one_megabyte(transport: Transport) -> None:
    async with running_peer() as peer:
        async with transport.connect(peer.url("/large"), open_timeout=3) as ws:
            got, _ = await recv_n(ws, 2)
        assert text_of(got[0]) == "a" * MB
        assert got[1] == bytes(range(256)) * (MB // 256)


async def test_fragmented_messages_are_reassembled(transport: Transport) -> None:
    async with running_peer() as peer:
        async with transport.connect(peer.url("/fragmented"), open_timeout=3) as ws:
            got, _ = await recv_n(ws, 3)
        assert text_of(got[0]) == "fragmented text"
        assert got[1] == b"\x01\x02\x03"
        assert text_of(got[2]) == "whole"


async def test_burst_keeps_order(transport: Transport) -> None:
    async with running_peer() as peer:
        async with transport.connect(peer.url("/burst?500"), open_timeout=3) as ws:
            got, _ = await recv_n(ws, 500)
        assert [text_of(f) for f in got] == [f"frame-{i}" for i in range(500)]


async def test_picows_returns_a_burst_in_one_batch() -> None:
    """A burst already in the buffer comes back from one ``recv_batch`` (one task switch)."""
    async with running_peer() as peer:
        async with PicowsTransport().connect(peer.url("/burst?500"), open_timeout=3) as ws:
            with anyio.fail_after(5):
                while ws.buffered_frames < 500:
                    await anyio.sleep(0.01)
            first = await ws.recv_batch(max_frames=100)
            rest = await ws.recv_batch()
        assert [f.decode() for f in first] == [f"frame-{i}" for i in range(100)]
        assert [f.decode() for f in rest] == [f"frame-{i}" for i in range(100, 500)]


# ----- closing and failures ------------------------------------------------------------------


@pytest.mark.parametrize(("code", "reason"), [(1000, ""), (1011, "internal error"), (4001, "bye")])
async def test_server_close_reports_code_after_buffered_frames(transport: Transport, code: int, reason: str) -> None:
    async with running_peer() as peer:
        async with transport.connect(peer.url(f"/close?{code}:{quote(reason)}"), open_timeout=3) as ws:
            got, _ = await recv_n(ws, 1)
            with pytest.raises(ConnectionClosed) as info:
                with anyio.fail_after(3):
                    await ws.recv_batch()
            # The close sticks: later calls raise at once instead of waiting forever.
            with pytest.raises(ConnectionClosed):
                with anyio.fail_after(1):
                    await ws.recv_batch()
            with pytest.raises(ConnectionClosed):
                await ws.send_text("too late")
        assert text_of(got[0]) == "last words"
        assert (info.value.code, info.value.reason) == (code, reason)
        assert isinstance(info.value, TransportError)


async def test_dropped_socket_is_connection_closed(transport: Transport) -> None:
    async with running_peer() as peer:
        async with transport.connect(peer.url("/abort"), open_timeout=3) as ws:
            got, _ = await recv_n(ws, 1)
            with pytest.raises(ConnectionClosed) as info:
                with anyio.fail_after(3):
                    await ws.recv_batch()
        assert text_of(got[0]) == "before abort"
        assert info.value.code is None


async def test_send_recv_ping_after_local_close_raise(transport: Transport) -> None:
    async with running_peer() as peer:
        async with transport.connect(peer.url("/echo"), open_timeout=3) as ws:
            await ws.close()
            await ws.close()  # idempotent, never raises
            with pytest.raises(ConnectionClosed):
                await ws.send_text("after close")
            with pytest.raises(ConnectionClosed):
                with anyio.fail_after(1):
                    await ws.recv_batch()
            with pytest.raises(ConnectionClosed):
                await ws.ping()
        with anyio.fail_after(3):
            while not peer.close_codes:
                await anyio.sleep(0.01)
        assert peer.close_codes == [1000]
        assert peer.received == []


async def test_connection_refused_is_transport_error(transport: Transport) -> None:
    with pytest.raises(TransportError, match="cannot connect"):
        async with transport.connect(f"ws://127.0.0.1:{free_port()}/", open_timeout=3):
            pass


@pytest.mark.parametrize("url", ["notaurl", "http://127.0.0.1:9/", "ws://[broken/"])
async def test_bad_url_is_transport_error(transport: Transport, url: str) -> None:
    with pytest.raises(TransportError):
        async with transport.connect(url, open_timeout=2):
            pass


async def test_rejected_handshake_is_transport_error(transport: Transport) -> None:
    async with running_peer() as peer:
        with pytest.raises(TransportError):
            async with transport.connect(peer.url("/reject"), open_timeout=3):
                pass


async def _hang_up(stream: anyio.abc.SocketStream) -> None:
    """Read the upgrade request, then close the socket without answering."""
    async with stream:
        await stream.receive()


async def _swallow(stream: anyio.abc.SocketStream) -> None:
    """Read the upgrade request and never answer."""
    async with stream:
        with anyio.move_on_after(3):
            while True:
                await stream.receive()


@pytest.mark.parametrize(("behaviour", "open_timeout"), [(_swallow, 0.3), (_hang_up, 3.0)], ids=["silent", "hang-up"])
async def test_failed_handshake_on_raw_tcp_is_transport_error(
    transport: Transport, behaviour: Callable[[anyio.abc.SocketStream], Awaitable[None]], open_timeout: float
) -> None:
    """A peer that accepts TCP but never answers the upgrade (or hangs up) must neither hang
    the connector nor hand it a dead connection."""
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, behaviour)
            with anyio.fail_after(5):
                with pytest.raises(TransportError, match="timed out|cannot connect"):
                    async with transport.connect(f"ws://127.0.0.1:{port}/", open_timeout=open_timeout):
                        pass
            tg.cancel_scope.cancel()


async def test_body_exception_propagates_unwrapped(transport: Transport) -> None:
    """An error inside ``async with connect()`` leaves as itself (no ExceptionGroup), so the
    connector's ``except SessionError`` still matches, and the socket is closed."""
    async with running_peer() as peer:
        with pytest.raises(KeyError, match="boom"):
            async with transport.connect(peer.url("/echo"), open_timeout=3):
                raise KeyError("boom")
        with anyio.fail_after(3):
            while not peer.close_codes:
                await anyio.sleep(0.01)
        assert peer.close_codes == [1000]


async def test_cancelled_body_closes_cleanly(transport: Transport) -> None:
    async with running_peer() as peer:
        with anyio.move_on_after(0.2) as scope:
            async with transport.connect(peer.url("/echo"), open_timeout=3) as ws:
                await ws.recv_batch()
        assert scope.cancelled_caught
        with anyio.fail_after(3):
            while not peer.close_codes:
                await anyio.sleep(0.01)
        assert peer.close_codes == [1000]


# ----- control frames, cancellation, back-pressure -------------------------------------------


async def test_server_pings_are_answered_without_receiving(transport: Transport) -> None:
    async with running_peer() as peer:
        async with transport.connect(peer.url("/ping"), open_timeout=3) as ws:
            with anyio.fail_after(3):
                while peer.pongs == 0:
                    await anyio.sleep(0.01)
            got, _ = await recv_n(ws, 1)
            await ws.ping()  # a client ping on an open connection is fine too
        assert text_of(got[0]) == "pong seen"
        assert peer.pongs == 1


async def test_cancelled_recv_leaves_connection_usable(transport: Transport) -> None:
    async with running_peer() as peer:
        async with transport.connect(peer.url("/echo"), open_timeout=3) as ws:
            with anyio.move_on_after(0.05) as scope:
                await ws.recv_batch()
            assert scope.cancelled_caught
            await ws.send_text("still here")
            got, _ = await recv_n(ws, 1)
        assert text_of(got[0]) == "still here"


async def test_no_frame_lost_when_receives_keep_timing_out(transport: Transport) -> None:
    """The connector wraps every receive in a short timeout; frames arriving while a receive is
    being cancelled must still come out, in order."""
    n = 300
    async with running_peer() as peer:
        async with transport.connect(peer.url(f"/trickle?{n}"), open_timeout=3) as ws:
            got: list[Frame] = []
            timeouts = 0
            with anyio.fail_after(10):
                while len(got) < n:
                    with anyio.move_on_after(0.0005) as scope:
                        got.extend(await ws.recv_batch())
                    timeouts += scope.cancelled_caught
        assert [text_of(f) for f in got] == [f"t{i}" for i in range(n)]
        assert timeouts > 0


async def test_slow_reader_pushes_back_on_the_server(transport: Transport) -> None:
    """While the client reads nothing, neither transport buffers without bound: the server's
    sends block (TCP back-pressure) long before the flood is through. Then everything arrives."""
    count, size = 4000, 16 * 1024  # 64 MB: far more than loopback socket buffers hold
    async with running_peer() as peer:
        async with _small_buffer(transport).connect(peer.url(f"/flood?{count}:{size}"), open_timeout=3) as ws:
            await anyio.sleep(0.3)
            with anyio.fail_after(5):
                while True:  # wait until the server is stuck (sent stops moving)
                    before = peer.sent
                    await anyio.sleep(0.1)
                    if peer.sent == before:
                        break
            stuck_at = peer.sent
            if isinstance(ws, PicowsConnection):
                assert ws.reading_paused
                assert ws.buffered_bytes <= 1 * MB + 2 * MB  # high water + at most one socket read
            got, _ = await recv_n(ws, count, timeout=20)
            if isinstance(ws, PicowsConnection):
                assert not ws.reading_paused
                assert ws.buffered_frames == 0
        assert stuck_at < count
        assert peer.sent == count
        assert [text_of(f)[:8] for f in got] == [f"{i:08d}" for i in range(count)]


def _small_buffer(transport: Transport) -> Transport:
    """picows with a 1 MB / 64-frame high-water mark; httpx-ws is bounded by its own design."""
    if isinstance(transport, PicowsTransport):
        return PicowsTransport(high_water=64, high_water_bytes=1 * MB)
    return transport


async def test_picows_pauses_at_high_water_and_resumes() -> None:
    async with running_peer() as peer:
        async with PicowsTransport(high_water=64).connect(peer.url("/flood?2000:10"), open_timeout=3) as ws:
            with anyio.fail_after(5):
                while not ws.reading_paused:
                    await anyio.sleep(0.01)
            await anyio.sleep(0.2)  # stays paused: the buffer does not keep growing
            held = ws.buffered_frames
            assert 64 <= held < 2000
            assert ws.reading_paused
            first = await ws.recv_batch(max_frames=10)
            assert ws.reading_paused  # still above the low-water mark (64 // 4)
            second = await ws.recv_batch()
            assert not ws.reading_paused  # drained: the socket is read again
            got, _ = await recv_n(ws, 2000 - len(first) - len(second))
        frames = first + second + got
        assert [f[:8].decode() for f in frames] == [f"{i:08d}" for i in range(2000)]
