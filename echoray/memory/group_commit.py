"""Group commit: concurrent writes share one LanceDB commit (memory layer, asyncio).

Each commit to LanceDB writes a new table version, so one append per request would make
many small versions under load. ``GroupCommitter.submit`` queues a writer's items and
waits; a single flusher takes everything queued (up to ``max_batch`` items, never
splitting one writer's items), waits up to ``window_s`` for more to arrive while the
batch is small, and calls ``commit`` once. Each writer is answered only after the commit
holding its items returned, with that commit's error if it failed, so nothing is
acknowledged before it is durable. While a commit runs, new writers queue for the next
one, which is what batches them under load.

The committer is plain asyncio; a synchronous ``commit`` runs in a worker thread. Each
writer gets back what ``commit`` returned for the batch that held its items.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from echoray.errors import ServiceUnavailableError

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Pending(Generic[T]):
    items: list[T]
    done: asyncio.Future[Any] = field(repr=False)


class GroupCommitter(Generic[T, R]):
    """Batches ``submit`` calls into as few ``commit`` calls as the load allows."""

    def __init__(
        self,
        commit: Callable[[list[T]], R] | Callable[[list[T]], Awaitable[R]],
        *,
        window_s: float = 0.005,
        max_batch: int = 512,
    ) -> None:
        self._commit = commit
        # An object whose __call__ is async counts as async too.
        call = type(commit).__call__ if not inspect.isroutine(commit) else commit
        self._is_async = inspect.iscoroutinefunction(commit) or inspect.iscoroutinefunction(call)
        self.window_s = window_s
        self.max_batch = max_batch
        self._queue: list[_Pending[T]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False
        self.commits = 0

    async def submit(self, items: Sequence[T]) -> R | None:
        """Queue ``items`` and return, once they are committed, what ``commit`` returned
        for their batch (None for no items).

        Raises:
            ServiceUnavailableError: the committer is closed.
            Exception: whatever ``commit`` raised for the batch holding these items.
        """
        if self._closed:
            raise ServiceUnavailableError("the writer is shutting down", code="closing")
        if not items:
            return None
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(list(items), done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._run())
        return await done

    async def close(self) -> None:
        """Refuse new writes and wait until what is queued is committed."""
        self._closed = True
        if self._flusher is not None:
            await self._flusher

    async def _run(self) -> None:
        # Runs while there is work and ends when the queue is empty; the next submit
        # starts a new one (no awaits between that check and returning, so none is lost).
        while self._queue:
            queued = sum(len(p.items) for p in self._queue)
            if self.window_s > 0 and queued < self.max_batch and not self._closed:
                await asyncio.sleep(self.window_s)  # let concurrent writers join
            await self._commit_batch(self._take_batch())

    def _take_batch(self) -> list[_Pending[T]]:
        batch: list[_Pending[T]] = []
        size = 0
        while self._queue:
            items = len(self._queue[0].items)
            if batch and size + items > self.max_batch:
                break
            batch.append(self._queue.pop(0))
            size += items
        return batch

    async def _commit_batch(self, batch: list[_Pending[T]]) -> None:
        items = [item for pending in batch for item in pending.items]
        try:
            if self._is_async:
                result = await self._commit(items)  # type: ignore[misc]
            else:
                result = await asyncio.to_thread(self._commit, items)
            self.commits += 1
        except Exception as exc:
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(exc)
            return
        for pending in batch:
            if not pending.done.done():
                pending.done.set_result(result)
