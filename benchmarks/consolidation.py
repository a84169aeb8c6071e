"""``consolidation``: the time to consolidate 100k memories with 1 and with 2 workers.

The data: ``USERS`` users of one tenant with ``MEMORIES // USERS`` memories each, random
unit vectors (384 values) with structure for every step to find: a tenth are
near-duplicates of another memory of the user (cosine about 0.99), a tenth belong to small
topic clusters (reflections), a tenth were last used 400 days ago (forgotten), and every
user has a few experiences (patterns). They are written straight to LanceDB and compacted
once (files merged, per-user indexes built, as after an earlier run), then two shards load
them, as a restarted cluster would.

Each repeat copies the untouched folder, opens the shards, and runs one consolidation over
every user with ``workers`` shards at once, two ways:

- in process: ``MemoryShardCore`` shards and the ``ConsolidationScheduler`` in this
  process; each shard's run is a coroutine, its LanceDB and numpy work in threads;
- Ray tasks (what a cluster runs): ``MemoryShard`` actors and the ``Consolidator`` actor
  on a local Ray cluster; each shard's run is a Ray task in its own process.

Timed: the whole run, wall clock; per step: the sum over shards of each step's time.
Throughput = memories / run seconds. Compaction is included.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.contract import BenchContext, BenchResult
from benchmarks.stats import format_spread, summarize

NAME = "consolidation"
DIMENSION = 384
MEMORIES = 100_000
USERS = 200
WORKERS = (1, 2)


def _vectors(rng: np.random.Generator, rows: int) -> np.ndarray:
    v = rng.standard_normal((rows, DIMENSION)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def seed(folder: Path, memories: int, users: int) -> dict[str, int]:
    """Write the synthetic tenant to LanceDB at ``folder``; returns what was planted."""
    from echoray.config import MemoryConfig
    from echoray.memory.records import Experience, MemoryRecord, utc_now
    from echoray.memory.store import LanceDBStore

    limits = MemoryConfig(max_batch=100_000)
    store = LanceDBStore(str(folder), DIMENSION, limits=limits)
    rng = np.random.default_rng(0)
    now = utc_now()
    per_user = memories // users
    planted = {"duplicates": 0, "clustered": 0, "old": 0}
    records, experiences = [], []
    for u in range(users):
        user = f"user-{u:04d}"
        vectors = _vectors(rng, per_user)
        tenth = per_user // 10
        for i in range(tenth):  # near-duplicates of the first tenth
            noisy = vectors[i] + 0.01 * rng.standard_normal(DIMENSION).astype(np.float32)
            vectors[tenth + i] = noisy / np.linalg.norm(noisy)
        topics = _vectors(rng, max(1, tenth // 5))
        for i in range(tenth):  # topic clusters of five
            mixed = topics[i // 5] + 0.6 * _vectors(rng, 1)[0]
            vectors[2 * tenth + i] = mixed / np.linalg.norm(mixed)
        planted["duplicates"] += tenth
        planted["clustered"] += tenth
        for i in range(per_user):
            age = timedelta(days=400) if i >= per_user - tenth else timedelta(hours=i)
            planted["old"] += i >= per_user - tenth
            records.append(
                MemoryRecord.model_construct(
                    id=f"m{i}",
                    tenant="bench",
                    user=user,
                    session=None,
                    kind="episodic",
                    text=f"memory {i} of {user}. It says something.",
                    vector=vectors[i],
                    created_at=now - age,
                    last_accessed=now - age,
                    access_count=0,
                    importance=0.0 if age.days else 0.5,
                    valence=0.0,
                    arousal=0.0,
                    dominance=0.5,
                    strength=1.0,
                    pinned=False,
                    sources=[f"req-{user}-{i}"] if i < 5 else [],
                    metadata={},
                )
            )
        for i in range(5):
            experiences.append(
                Experience.build(
                    id=f"req-{user}-{i}",
                    tenant="bench",
                    user=user,
                    query=f"question {i}",
                    response="ok",
                    model="fake",
                    latency_ms=1.0,
                    created_at=now,
                )
            )
        if len(records) >= 20_000:
            store.append(records)
            records = []
    if records:
        store.append(records)
    store.append_experiences(experiences)
    store.compact(keep_versions_s=60)  # as an earlier run's compaction leaves the tables
    return planted


def _config(folder: Path, workers: int) -> Any:
    from echoray.config import EchoRayConfig

    return EchoRayConfig.model_validate(
        {
            "storage": {"uri": str(folder)},
            "embeddings": {"kind": "hash"},
            "memory": {"num_shards": 2},
            # no schedule: the one timed run is the admin's
            "consolidation": {"enabled": False, "workers": workers, "keep_versions_s": 60},
        }
    )


def _finished(run: dict[str, Any], seconds: float) -> dict[str, Any]:
    if run["state"] != "done":
        raise RuntimeError(f"consolidation ended {run['state']}: {run['shards']}")
    return {"seconds": seconds, "counts": run["counts"], "ms": run["ms"]}


async def _in_process(folder: Path, workers: int) -> dict[str, Any]:
    from echoray.embeddings.hashed import HashEmbedder
    from echoray.services.local import make_local_consolidation, make_local_shards

    config = _config(folder, workers)
    shards = make_local_shards(config, DIMENSION)
    scheduler = make_local_consolidation(config, shards, HashEmbedder(dimension=DIMENSION))
    started = time.perf_counter()
    run = await scheduler.run()
    return _finished(run.as_dict(), time.perf_counter() - started)


def _on_ray(folder: Path, workers: int) -> dict[str, Any]:
    """The production path: shard actors that loaded the folder, and the Consolidator
    running each shard's run as a Ray task (a process of its own) that reads LanceDB and
    applies its changes through the shard actors."""
    import uuid

    import ray

    from echoray.serve.consolidator import start_consolidator
    from echoray.serve.shard import start_shards

    config = _config(folder, workers)
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    shards = start_shards(config, namespace=namespace)
    consolidator = start_consolidator(config, namespace=namespace)
    try:
        ray.get([shard.ping.remote() for shard in shards])  # loaded: not timed
        started = time.perf_counter()
        run = ray.get(consolidator.consolidate.remote(None, True))
        return _finished(run, time.perf_counter() - started)
    finally:
        for handle in [*shards, consolidator]:
            ray.kill(handle, no_restart=True)


MODES = {"in process": lambda f, w: asyncio.run(_in_process(f, w)), "Ray tasks": _on_ray}


def run(ctx: BenchContext) -> BenchResult:
    import ray

    scratch = ctx.out_dir / NAME
    shutil.rmtree(scratch, ignore_errors=True)
    pristine = scratch / "pristine"
    started = time.perf_counter()
    planted = seed(pristine, MEMORIES, USERS)
    seed_s = time.perf_counter() - started
    repeats = 1 if ctx.quick else ctx.repeats
    arms = [(mode, workers) for mode in MODES for workers in WORKERS]
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {arm: [] for arm in arms}
    # Two cores, as on this machine; the shard actors and tasks ask for fractions of one.
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        for repeat in range(repeats):
            for mode, workers in arms if repeat % 2 == 0 else arms[::-1]:
                folder = scratch / f"run-{repeat}-{workers}-{mode.replace(' ', '-')}"
                shutil.copytree(pristine, folder)
                runs[(mode, workers)].append(MODES[mode](folder, workers))
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        ray.shutdown()
    figures: dict[str, Any] = {"planted": planted, "seed_s": seed_s}
    table = []
    for (mode, workers), measured in runs.items():
        seconds = summarize([m["seconds"] for m in measured])
        rate = summarize([MEMORIES / m["seconds"] for m in measured])
        steps = {k: summarize([m["ms"][k] for m in measured]) for k in measured[0]["ms"]}
        figures[f"{mode.replace(' ', '_')}_workers_{workers}"] = {
            "seconds": seconds,
            "memories_per_s": rate,
            "step_ms": steps,
            "counts": measured[0]["counts"],
        }
        total = sum(float(s["median"]) for s in steps.values()) or 1.0
        table.append(
            {
                "mode": mode,
                "workers": workers,
                "memories": MEMORIES,
                "run s": format_spread(seconds, 1),
                "memories/s": format_spread(rate, 0),
                "where the time goes (share of step time, summed over shards)": ", ".join(
                    f"{k} {float(v['median']) / total:.0%}" for k, v in steps.items()
                ),
            }
        )

    def median_s(mode: str, workers: int) -> float:
        return float(summarize([m["seconds"] for m in runs[(mode, workers)]])["median"])

    counts = runs[arms[0]][0]["counts"]
    speedups = ", ".join(
        f"{mode} {median_s(mode, WORKERS[0]) / median_s(mode, WORKERS[1]):.2f}x" for mode in MODES
    )
    notes = [
        f"{MEMORIES} memories of {USERS} users on 2 shards; planted {planted}; one run "
        f"found: {counts}.",
        f"2 workers over 1: {speedups}. In process the two shard runs share one Python "
        "process; as Ray tasks each shard's run is a process of its own, and its writes are "
        "applied by the shard actors. All on these 2 cores.",
        "Step times are summed over shards, so with 2 workers they add up to more than the "
        "wall clock; 'read' is the one LanceDB read of a shard's rows per run; compaction "
        "(after the steps) is in the run time, not in the step shares.",
        f"Seeding (untimed): {seed_s:.1f} s straight to LanceDB; the Ray shard actors' "
        "loading of the rows is not timed either."
        + (" Quick run: one repeat." if ctx.quick else ""),
    ]
    return BenchResult(
        name=NAME,
        params={
            "memories": MEMORIES,
            "users": USERS,
            "shards": 2,
            "workers": list(WORKERS),
            "modes": list(MODES),
            "repeats": repeats,
        },
        figures=figures,
        table=table,
        notes=notes,
    )
