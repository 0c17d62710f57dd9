"""BatchChannel: bounded in events, honest about what it accepted."""

from __future__ import annotations

import anyio
import pytest

from mdi.channel import BatchChannel, ChannelClosed

pytestmark = pytest.mark.anyio


async def test_capacity_is_counted_in_events() -> None:
    ch: BatchChannel[int] = BatchChannel("t", 10)
    assert ch.try_put([1] * 6)
    assert not ch.try_put([2] * 5)  # 11 > 10: refused whole, nothing queued
    assert ch.size == 6
    assert ch.try_put([3] * 4)
    assert ch.get_nowait(100) == [1] * 6 + [3] * 4
    assert ch.size == 0


async def test_an_oversized_batch_fits_only_into_an_empty_channel() -> None:
    ch: BatchChannel[int] = BatchChannel("t", 3)
    assert ch.try_put(list(range(5)))
    assert not ch.try_put([9])
    assert ch.get_nowait(1) == [0, 1, 2, 3, 4]  # whole batches only


async def test_put_waits_for_room_and_a_cancelled_put_queued_nothing() -> None:
    ch: BatchChannel[int] = BatchChannel("t", 2)
    ch.try_put([1, 2])
    with anyio.move_on_after(0.05) as scope:
        await ch.put([3])
    assert scope.cancelled_caught and ch.size == 2
    async with anyio.create_task_group() as tg:
        tg.start_soon(ch.put, [3])
        await anyio.sleep(0.01)
        assert ch.size == 2
        assert ch.get_nowait(10) == [1, 2]
    assert ch.get_nowait(10) == [3]


async def test_close_drains_then_ends_iteration_and_refuses_puts() -> None:
    ch: BatchChannel[int] = BatchChannel("t", 10)
    ch.try_put([1])
    ch.close()
    with pytest.raises(ChannelClosed):
        ch.try_put([2])
    assert [b async for b in ch] == [[1]]
    assert await ch.get() is None


async def test_get_wakes_on_put() -> None:
    ch: BatchChannel[int] = BatchChannel("t", 10)
    got: list[list[int] | None] = []

    async def reader() -> None:
        got.append(await ch.get())

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        await anyio.sleep(0.01)
        ch.try_put([7, 8])
    assert got == [[7, 8]]


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity must be >= 1"):
        BatchChannel("t", 0)
