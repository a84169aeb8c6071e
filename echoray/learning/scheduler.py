"""When and where consolidation runs, and what it did (learning layer, asyncio, no Ray).

``ConsolidationScheduler`` starts runs (an admin's, the interval's, or a shard's turn
threshold), sends each shard's work to ``dispatch`` (a Ray task in the Consolidator actor,
a coroutine in process) with at most ``workers`` shards at once, never two runs on one
shard, then compacts the tables once. It keeps the status and history that
``GET /v1/admin/consolidation`` shows.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from echoray.config import ConsolidationConfig
from echoray.learning.consolidation import COUNTS, STEPS, ShardReport
from echoray.memory.records import utc_now

log = logging.getLogger(__name__)

Dispatch = Callable[[int, str, "str | None"], Awaitable[ShardReport]]
Compact = Callable[[], Awaitable[int]]
Pressure = Callable[[int], Awaitable[int]]


@dataclass
class Run:
    """One consolidation run over some shards."""

    run_id: str
    tenant: str | None
    reason: str
    shards: list[int]
    started_at: datetime = field(default_factory=utc_now)
    finished_at: datetime | None = None
    state: str = "running"  # running | done | partial | failed | skipped
    reports: dict[int, dict[str, Any]] = field(default_factory=dict)
    compacted: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def as_dict(self) -> dict[str, Any]:
        counts = dict.fromkeys(COUNTS, 0)
        ms = dict.fromkeys(("read", *STEPS), 0.0)
        for report in self.reports.values():
            for key, value in report.get("counts", {}).items():
                counts[key] = counts.get(key, 0) + value
            for key, value in report.get("ms", {}).items():
                ms[key] = round(ms.get(key, 0.0) + value, 1)
        counts["compacted"] = self.compacted
        return {
            "run_id": self.run_id,
            "tenant": self.tenant,
            "reason": self.reason,
            "state": self.state,
            "started_at": self.started_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
            "counts": counts,
            "ms": ms,
            "shards": [self.reports[i] for i in sorted(self.reports)],
        }


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
    ) -> None:
        self.num_shards = num_shards
        self.config = config
        self._dispatch = dispatch
        self._compact = compact
        self._pressure = pressure
        self._busy: set[int] = set()
        self._runs: dict[str, Run] = {}
        self._history: collections.deque[Run] = collections.deque(maxlen=config.history)
        self._totals = dict.fromkeys((*COUNTS, "compacted"), 0)
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(config.workers)
        self._last_scheduled: datetime | None = None
        self._loop_task: asyncio.Task[None] | None = None

    # --- runs -----------------------------------------------------------------------

    def start(
        self, tenant: str | None = None, reason: str = "admin", shards: Sequence[int] | None = None
    ) -> Run:
        """Start a run over ``shards`` (default: all) in the background and return it.
        Shards another run is working on are left out of this one."""
        wanted = list(range(self.num_shards)) if shards is None else list(shards)
        free = [i for i in wanted if i not in self._busy]
        run = Run(run_id="cons-" + uuid.uuid4().hex[:16], tenant=tenant, reason=reason, shards=free)
        for index in sorted(set(wanted) - set(free)):
            run.reports[index] = {"shard": index, "state": "skipped", "error": "already running"}
        self._busy.update(free)
        self._runs[run.run_id] = run
        task = asyncio.create_task(self._run(run))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return run

    async def run(self, tenant: str | None = None, reason: str = "admin") -> Run:
        """Start a run and wait until it finished."""
        run = self.start(tenant, reason)
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
        try:
            await asyncio.gather(*(self._shard(run, index) for index in run.shards))
            if self.config.compact and self._compact is not None and run.shards:
                try:
                    run.compacted = await self._compact()
                except Exception as exc:  # the next run compacts again
                    log.warning("compaction failed: %r", exc)
                    run.reports.setdefault(-1, {"shard": -1, "state": "failed"})["error"] = (
                        f"compaction: {exc!r}"
                    )
            states = {r.get("state") for r in run.reports.values()} - {"skipped"}
            if not states:
                run.state = "skipped"  # every shard was busy with another run
            elif states == {"done"}:
                run.state = "done"
            else:
                run.state = "failed" if states == {"failed"} else "partial"
        except asyncio.CancelledError:
            run.state = "failed"
            raise
        finally:
            run.finished_at = utc_now()
            self._busy.difference_update(run.shards)
            self._runs.pop(run.run_id, None)
            self._history.append(run)
            for key, value in run.as_dict()["counts"].items():
                self._totals[key] = self._totals.get(key, 0) + value
            run.done.set()

    async def _shard(self, run: Run, index: int) -> None:
        async with self._slots:
            run.reports[index] = {"shard": index, "state": "running"}
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
        }

    # --- the background schedule ------------------------------------------------------

    def start_schedule(self) -> None:
        """Run on the interval and on each shard's turn threshold (idempotent)."""
        if self.config.enabled and (self._loop_task is None or self._loop_task.done()):
            self._last_scheduled = utc_now()
            self._loop_task = asyncio.create_task(self._schedule())

    async def _schedule(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_s)
            try:
                await self.tick()
            except Exception:  # a failed poll must not end the schedule
                log.warning("consolidation schedule tick failed", exc_info=True)

    async def tick(self, now: datetime | None = None) -> Run | None:
        """One look at the clock and the shards: start what is due (at most one run)."""
        now = now or utc_now()
        if self._last_scheduled is None:
            self._last_scheduled = now
        if now - self._last_scheduled >= timedelta(seconds=self.config.interval_s):
            self._last_scheduled = now
            return self.start(reason="interval")
        if self._pressure is None:
            return None
        due = []
        for index in range(self.num_shards):
            if index not in self._busy and await self._pressure(index) >= (
                self.config.short_term_threshold
            ):
                due.append(index)
        return self.start(reason="short-term threshold", shards=due) if due else None

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
        run = self.scheduler.start(tenant, reason="admin")
        if wait:
            await run.done.wait()
        return run.as_dict()

    async def status(self) -> dict[str, Any]:
        return self.scheduler.status()
