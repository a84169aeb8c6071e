import asyncio
from collections.abc import AsyncIterator

import pytest

from echoray.engines.streams import coalesce


async def burst_then_slow() -> AsyncIterator[int]:
    for i in range(5):
        yield i  # ready at once: one list
    await asyncio.sleep(0.05)
    yield 5
    await asyncio.sleep(0.05)
    yield 6


async def test_ready_items_travel_together_slow_ones_alone() -> None:
    batches = [b async for b in coalesce(burst_then_slow())]
    assert [x for b in batches for x in b] == list(range(7))
    assert batches[0] == [0, 1, 2, 3, 4]
    assert batches[-2:] == [[5], [6]]


async def test_errors_arrive_after_the_items_before_them() -> None:
    async def failing() -> AsyncIterator[int]:
        yield 1
        raise ValueError("boom")

    seen = []
    with pytest.raises(ValueError, match="boom"):
        async for batch in coalesce(failing()):
            seen.extend(batch)
    assert seen == [1]


async def test_closing_early_cancels_the_producer() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[int]:
        try:
            while True:
                await asyncio.sleep(0.01)
                yield 1
        finally:
            closed.set()

    stream = coalesce(endless())
    await anext(stream)
    await stream.aclose()
    await asyncio.wait_for(closed.wait(), 1)
