"""Group commit: concurrent writers share commits, and nobody is answered early."""

from __future__ import annotations

import asyncio
import threading

import pytest

from echoray.errors import ServiceUnavailableError
from echoray.memory.group_commit import GroupCommitter


class SlowLog:
    """A commit function that takes a while and records each batch."""

    def __init__(self, delay_s: float = 0.02, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.delay_s = delay_s
        self.fail_on = fail_on
        self.lock = threading.Lock()

    def __call__(self, items: list[str]) -> None:
        threading.Event().wait(self.delay_s)
        if self.fail_on in items:
            raise OSError("disk full")
        with self.lock:
            self.batches.append(list(items))


async def test_concurrent_writers_share_commits() -> None:
    log = SlowLog()
    committer = GroupCommitter(log, window_s=0.01, max_batch=1000)
    await asyncio.gather(*(committer.submit([f"w{i}-a", f"w{i}-b"]) for i in range(50)))
    committed = [item for batch in log.batches for item in batch]
    assert sorted(committed) == sorted(f"w{i}-{x}" for i in range(50) for x in "ab")
    assert committer.commits == len(log.batches) < 10
    for batch in log.batches:  # a writer's items are never split across commits
        for i in range(50):
            assert (f"w{i}-a" in batch) == (f"w{i}-b" in batch)


async def test_max_batch_bounds_each_commit() -> None:
    log = SlowLog(delay_s=0.0)
    committer = GroupCommitter(log, window_s=0.01, max_batch=5)
    await asyncio.gather(*(committer.submit([f"x{i}"]) for i in range(23)))
    assert all(len(batch) <= 5 for batch in log.batches)
    assert sum(len(b) for b in log.batches) == 23
    # One writer with more than max_batch items still goes through, alone.
    await committer.submit([f"big{i}" for i in range(7)])
    assert log.batches[-1] == [f"big{i}" for i in range(7)]


async def test_writers_are_answered_only_after_their_commit() -> None:
    log = SlowLog(delay_s=0.05)
    committer = GroupCommitter(log, window_s=0.0)
    await committer.submit(["one"])
    assert log.batches == [["one"]]


async def test_a_failed_commit_fails_every_writer_in_it_and_only_them() -> None:
    log = SlowLog(fail_on="bad")
    committer = GroupCommitter(log, window_s=0.02)
    results = await asyncio.gather(
        committer.submit(["good-1"]), committer.submit(["bad"]), return_exceptions=True
    )
    assert all(isinstance(r, OSError) for r in results)
    await committer.submit(["good-2"])  # the committer keeps working
    assert log.batches == [["good-2"]]


async def test_async_commit_functions_and_close() -> None:
    seen: list[list[int]] = []

    async def commit(items: list[int]) -> None:
        await asyncio.sleep(0.001)
        seen.append(items)

    committer: GroupCommitter[int] = GroupCommitter(commit, window_s=0.001)
    writers = [asyncio.create_task(committer.submit([i])) for i in range(5)]
    await asyncio.sleep(0)
    await committer.close()
    await asyncio.gather(*writers)
    assert sorted(i for batch in seen for i in batch) == list(range(5))
    with pytest.raises(ServiceUnavailableError):
        await committer.submit([99])


async def test_objects_with_an_async_call_are_awaited() -> None:
    class AsyncSink:
        def __init__(self) -> None:
            self.items: list[int] = []

        async def __call__(self, items: list[int]) -> None:
            self.items += items

    sink = AsyncSink()
    await GroupCommitter(sink, window_s=0).submit([1, 2])
    assert sink.items == [1, 2]
