"""When and where consolidation runs, and what it did (learning layer, asyncio, no Ray).

``ConsolidationScheduler`` starts runs (an admin's, the interval's, or a shard's turn
threshold), sends each shard's work to ``dispatch`` (a Ray task in the Consolidator actor,
a coroutine in process) with at most ``workers`` shards at once, never two runs on one
shard, then compacts the tables once. It keeps the status and history that
``GET /v1/admin/consolidation`` shows; with a ``RunStore`` they live in LanceDB too, so a
restarted scheduler (the Consolidator actor after a crash) goes on where the last left.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from echoray.config import ConsolidationConfig
from echoray.learning.consolidation import COUNTS, STEPS, ShardReport
from echoray.learning.run_store import RunStore
from echoray.learning.runs import FINAL_STATES, RUNNING, Run
from echoray.memory.records import utc_now

log = logging.getLogger(__name__)

Dispatch = Callable[[int, str, "str | None"], Awaitable[ShardReport]]
Compact = Callable[[], Awaitable[int]]
Pressure = Callable[[int], Awaitable[int]]


class ConsolidationScheduler:
    """Runs consolidation; see the module docstring."""

    def __init__(
        self,
        num_shards: int,
        config: ConsolidationConfig,
        dispatch: Dispatch,
        *,
        compact: Compact | None = None,
        pressure: Pressure | None = None,
        store: RunStore | None = None,
    ) -> None:
        """With ``store``, the history and the interval's last start are read from it
        (a run it still lists as running is marked interrupted) and every change is
        written to it before it is reported."""
        self.num_shards = num_shards
        self.config = config
        self._dispatch = dispatch
        self._compact = compact
        self._pressure = pressure
        self._store = store
        self._busy: set[int] = set()
        self._runs: dict[str, Run] = {}
        self._history: collections.deque[Run] = collections.deque(maxlen=config.history)
        self._totals = dict.fromkeys((*COUNTS, "compacted"), 0)
        # Finished runs by state and seconds per step since this scheduler started: the
        # gateway's /metrics exports them as counters (the history is bounded, these not).
        self._runs_by_state = dict.fromkeys(FINAL_STATES, 0)
        self._step_seconds = dict.fromkeys(("read", *STEPS), 0.0)
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(config.workers)
        self._last_scheduled: datetime | None = None
        self._loop_task: asyncio.Task[None] | None = None
        if store is not None:
            self._restore(store)

    def _restore(self, store: RunStore) -> None:
        for run in store.load_runs():
            if run.state == RUNNING:
                run.interrupt()
                store.save_run(run)  # once: the next restart finds it interrupted already
            run.done.set()
            self._history.append(run)
        self._last_scheduled = store.interval_started()

    async def _save(self, run: Run) -> None:
        if self._store is not None:
            await asyncio.to_thread(self._store.save_run, run)

    # --- runs -----------------------------------------------------------------------

    async def start(
        self, tenant: str | None = None, reason: str = "admin", shards: Sequence[int] | None = None
    ) -> Run:
        """Start a run over ``shards`` (default: all) in the background and return it,
        once it is stored. Shards another run is working on are left out of this one."""
        wanted = list(range(self.num_shards)) if shards is None else list(shards)
        free = [i for i in wanted if i not in self._busy]
        run = Run(run_id="cons-" + uuid.uuid4().hex[:16], tenant=tenant, reason=reason, shards=free)
        for index in sorted(set(wanted) - set(free)):
            run.reports[index] = {"shard": index, "state": "skipped", "error": "already running"}
        self._busy.update(free)  # before the write, so no other run takes these shards
        try:
            await self._save(run)
        except BaseException:
            self._busy.difference_update(free)
            raise
        self._runs[run.run_id] = run
        task = asyncio.create_task(self._run(run))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return run

    async def run(self, tenant: str | None = None, reason: str = "admin") -> Run:
        """Start a run and wait until it finished."""
        run = await self.start(tenant, reason)
        await run.done.wait()
        return run

    async def wait(self, run_id: str, timeout_s: float | None = None) -> Run | None:
        run = self.find(run_id)
        if run is not None:
            await asyncio.wait_for(run.done.wait(), timeout_s)
        return run

    def find(self, run_id: str) -> Run | None:
        return self._runs.get(run_id) or next(
            (r for r in self._history if r.run_id == run_id), None
        )

    async def _run(self, run: Run) -> None:
        state = "failed"  # what a cancelled run ends as
        try:
            await asyncio.gather(*(self._shard(run, index) for index in run.shards))
            if self.config.compact and self._compact is not None and run.shards:
                await self._compact_tables(run, self._compact)
            states = {r.get("state") for r in run.reports.values()} - {"skipped"}
            if not states:
                state = "skipped"  # every shard was busy with another run
            elif states == {"done"}:
                state = "done"
            else:
                state = "failed" if states == {"failed"} else "partial"
        finally:
            await self._finish(run, state)

    async def _compact_tables(self, run: Run, compact: Compact) -> None:
        try:
            run.compacted = await compact()
            if self._store is not None:
                await asyncio.to_thread(self._store.compact, self.config.keep_versions_s)
        except Exception as exc:  # the next run compacts again
            log.warning("compaction failed: %r", exc)
            run.reports.setdefault(-1, {"shard": -1, "state": "failed"})["error"] = (
                f"compaction: {exc!r}"
            )

    async def _finish(self, run: Run, state: str) -> None:
        finished = dataclasses.replace(run, state=state, finished_at=utc_now())
        try:
            # Stored as it will be reported, before anyone sees it finished.
            await self._save(finished)
        except Exception:  # still listed as running: a restart reports it interrupted
            log.error("could not store consolidation run %s", run.run_id, exc_info=True)
        run.state, run.finished_at = finished.state, finished.finished_at
        self._busy.difference_update(run.shards)
        self._runs.pop(run.run_id, None)
        self._history.append(run)
        summary = run.as_dict()
        for key, value in summary["counts"].items():
            self._totals[key] = self._totals.get(key, 0) + value
        self._runs_by_state[state] = self._runs_by_state.get(state, 0) + 1
        for step, ms in summary["ms"].items():
            self._step_seconds[step] = self._step_seconds.get(step, 0.0) + ms / 1000
        run.done.set()

    async def _shard(self, run: Run, index: int) -> None:
        async with self._slots:
            run.reports[index] = {"shard": index, "state": RUNNING}
            try:
                report = await self._dispatch(index, run.run_id, run.tenant)
            except Exception as exc:
                log.warning("consolidation of shard %d failed: %r", index, exc)
                run.reports[index] = {"shard": index, "state": "failed", "error": repr(exc)}
                return
            run.reports[index] = {**report.as_dict(), "state": "done"}

    # --- status ---------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        next_at = (
            None
            if self._last_scheduled is None or not self.config.enabled
            else (self._last_scheduled + timedelta(seconds=self.config.interval_s)).isoformat()
        )
        return {
            "enabled": self.config.enabled,
            "interval_s": self.config.interval_s,
            "short_term_threshold": self.config.short_term_threshold,
            "next_run_at": next_at,
            "running": [r.as_dict() for r in self._runs.values()],
            "history": [r.as_dict() for r in reversed(self._history)],
            "totals": dict(self._totals),
            "runs_by_state": dict(self._runs_by_state),
            "step_seconds": {step: round(s, 4) for step, s in self._step_seconds.items()},
        }

    # --- the background schedule ------------------------------------------------------

    def start_schedule(self) -> None:
        """Run on the interval and on each shard's turn threshold (idempotent). The
        interval goes on from its last start when the store remembers one."""
        if self.config.enabled and (self._loop_task is None or self._loop_task.done()):
            self._loop_task = asyncio.create_task(self._schedule())

    async def _schedule(self) -> None:
        if self._last_scheduled is None:  # the first schedule of this data
            try:
                await self._interval_started(utc_now())
            except Exception:  # the first tick tries again
                log.warning("could not store the consolidation schedule", exc_info=True)
        while True:
            await asyncio.sleep(self.config.poll_s)
            try:
                await self.tick()
            except Exception:  # a failed poll must not end the schedule
                log.warning("consolidation schedule tick failed", exc_info=True)

    async def _interval_started(self, at: datetime) -> None:
        if self._store is not None:
            await asyncio.to_thread(self._store.save_interval_started, at)
        self._last_scheduled = at

    async def tick(self, now: datetime | None = None) -> Run | None:
        """One look at the clock and the shards: start what is due (at most one run)."""
        now = now or utc_now()
        if self._last_scheduled is None:  # no schedule yet: the interval starts now
            await self._interval_started(now)
        elif now - self._last_scheduled >= timedelta(seconds=self.config.interval_s):
            await self._interval_started(now)
            return await self.start(reason="interval")
        if self._pressure is None:
            return None
        due = []
        for index in range(self.num_shards):
            if index not in self._busy and await self._pressure(index) >= (
                self.config.short_term_threshold
            ):
                due.append(index)
        return await self.start(reason="short-term threshold", shards=due) if due else None

    async def close(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
        for task in list(self._tasks):
            task.cancel()


class ConsolidationControl(Protocol):
    """Starts consolidation runs and reports on them (in process or the Ray actor)."""

    async def consolidate(self, tenant: str | None, wait: bool) -> dict[str, Any]: ...

    async def status(self) -> dict[str, Any]: ...


class SchedulerControl:
    """The admin endpoints' view of an in-process scheduler."""

    def __init__(self, scheduler: ConsolidationScheduler) -> None:
        self.scheduler = scheduler

    async def consolidate(self, tenant: str | None, wait: bool) -> dict[str, Any]:
        run = await self.scheduler.start(tenant, reason="admin")
        if wait:
            await run.done.wait()
        return run.as_dict()

    async def status(self) -> dict[str, Any]:
        return self.scheduler.status()
