"""Consolidation's history and schedule in a real LanceDB folder: a scheduler opened again
on the same folder (what a restarted Consolidator actor does) shows the runs before it,
goes on with the interval where it was, reports a run cut off half-way as interrupted,
and keeps only the newest ``history`` runs."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from echoray.config import ConsolidationConfig
from echoray.learning.consolidation import ShardReport
from echoray.learning.run_store import RunStore
from echoray.learning.runs import Run
from echoray.learning.scheduler import ConsolidationScheduler
from tests.unit.memory.factory import EPOCH

T0 = EPOCH + timedelta(days=400)


class Dispatch:
    """Shard runs that report one merge each, or hang until released (a dying actor)."""

    def __init__(self) -> None:
        self.hang = False
        self.release = asyncio.Event()

    async def __call__(self, index: int, run_id: str, tenant: str | None) -> ShardReport:
        if self.hang:
            await self.release.wait()
        report = ShardReport(shard=index, users=1)
        report.counts["merged"] = 1
        return report


def scheduler_on(folder: Path, dispatch: Any = None, **config: Any) -> ConsolidationScheduler:
    settings = ConsolidationConfig.model_validate({"interval_s": 3600, "compact": False, **config})
    store = RunStore(str(folder), keep=settings.history)
    return ConsolidationScheduler(2, settings, dispatch or Dispatch(), store=store)


async def test_a_new_scheduler_shows_the_runs_and_the_interval_of_the_last(
    tmp_path: Path,
) -> None:
    first = scheduler_on(tmp_path)
    await first.tick(T0)  # the interval starts at T0
    done = await first.run(tenant="acme")
    assert done.state == "done"
    before = first.status()

    again = scheduler_on(tmp_path)
    status = again.status()
    assert status["next_run_at"] == before["next_run_at"] == (T0 + timedelta(hours=1)).isoformat()
    assert status["history"] == before["history"]  # counts, shards and times included
    assert status["history"][0]["counts"]["merged"] == 2
    assert again.find(done.run_id) is not None
    assert await again.wait(done.run_id, 1) is not None  # a stored run is finished

    # The interval goes on from T0, not from when this scheduler opened.
    assert await again.tick(T0 + timedelta(minutes=59)) is None
    run = await again.tick(T0 + timedelta(hours=1))
    assert run is not None and run.reason == "interval"
    await run.done.wait()
    third = scheduler_on(tmp_path).status()
    assert third["next_run_at"] == (T0 + timedelta(hours=2)).isoformat()
    assert [r["run_id"] for r in third["history"]] == [run.run_id, done.run_id]


async def test_a_run_cut_off_half_way_comes_back_interrupted(tmp_path: Path) -> None:
    dispatch = Dispatch()
    dying = scheduler_on(tmp_path, dispatch)
    finished = await dying.run()
    dispatch.hang = True
    cut = await dying.start(tenant="acme")
    await asyncio.sleep(0.05)
    assert dying.status()["running"][0]["run_id"] == cut.run_id

    restarted = scheduler_on(tmp_path)  # the first never finishes its run
    history = restarted.status()["history"]
    assert [r["run_id"] for r in history] == [cut.run_id, finished.run_id]
    assert history[0]["state"] == "interrupted" and history[0]["finished_at"] is None
    assert {s["shard"]: s["state"] for s in history[0]["shards"]} == {
        0: "interrupted",
        1: "interrupted",
    }
    assert restarted.status()["running"] == []
    # Stored as interrupted, so the next restart shows the same.
    assert scheduler_on(tmp_path).status()["history"] == history
    assert (await restarted.run()).state == "done"  # a repeated run works
    await dying.close()


async def test_only_the_newest_runs_are_kept(tmp_path: Path) -> None:
    scheduler = scheduler_on(tmp_path, history=3)
    runs = [await scheduler.run() for _ in range(5)]
    newest = [r.run_id for r in reversed(runs[-3:])]
    assert [r["run_id"] for r in scheduler.status()["history"]] == newest
    assert [r["run_id"] for r in scheduler_on(tmp_path, history=3).status()["history"]] == newest
    assert len(RunStore(str(tmp_path), keep=3).load_runs()) == 3


def test_the_store_round_trips_a_run(tmp_path: Path) -> None:
    run = Run(
        run_id="cons-1",
        tenant=None,
        reason="admin",
        shards=[0, 1],
        started_at=T0,
        finished_at=T0 + timedelta(seconds=3),
        state="partial",
        reports={
            0: {"shard": 0, "state": "done", "users": 2, "counts": {"merged": 1}, "ms": {}},
            1: {"shard": 1, "state": "failed", "error": "RuntimeError('boom')"},
            -1: {"shard": -1, "state": "failed", "error": "compaction: OSError()"},
        },
        compacted=7,
    )
    RunStore(str(tmp_path), keep=10).save_run(run)
    store = RunStore(str(tmp_path), keep=10)
    (loaded,) = store.load_runs()
    assert loaded.as_dict() == run.as_dict() and loaded.shards == [0, 1]
    assert store.interval_started() is None
    store.save_interval_started(T0)
    store.save_interval_started(T0 + timedelta(hours=1))  # replaces, never a second row
    assert RunStore(str(tmp_path), keep=10).interval_started() == T0 + timedelta(hours=1)
    store.compact(60)
    assert [r.run_id for r in RunStore(str(tmp_path), keep=10).load_runs()] == ["cons-1"]
