"""Async stream helpers (core layer, plain asyncio)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

T = TypeVar("T")
_END = object()


async def coalesce(source: AsyncIterator[T], max_items: int = 256) -> AsyncIterator[list[T]]:
    """Yield lists of whatever items ``source`` has ready, never waiting to fill a list.

    Across a Serve handle every yielded item is one round trip; a fast producer (a batch
    of tokens, a fake engine) then costs one trip per burst instead of one per item, while
    a slow producer still streams item by item. Errors from ``source`` are re-raised in
    order; closing this iterator cancels the producer.
    """
    queue: asyncio.Queue[object] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for item in source:
                queue.put_nowait(item)
            queue.put_nowait(_END)
        except Exception as exc:
            queue.put_nowait(exc)

    producer = asyncio.create_task(pump())
    try:
        while True:
            batch: list[T] = []
            item = await queue.get()
            while True:
                if item is _END:
                    if batch:
                        yield batch
                    return
                if isinstance(item, Exception):
                    if batch:
                        yield batch
                    raise item
                batch.append(item)  # type: ignore[arg-type]
                if len(batch) >= max_items or queue.empty():
                    break
                item = queue.get_nowait()
            yield batch
    finally:
        producer.cancel()
        await asyncio.gather(producer, return_exceptions=True)
