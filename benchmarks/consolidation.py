"""``consolidation``: the time to consolidate 100k memories with 1 and with 2 workers.

The data: ``USERS`` users of one tenant with ``MEMORIES // USERS`` memories each, random
unit vectors (384 values) with structure for every step to find: a tenth are
near-duplicates of another memory of the user (cosine about 0.99), a tenth belong to small
topic clusters (reflections), a tenth were last used 400 days ago (forgotten), and every
user has a few experiences (patterns). They are written straight to LanceDB, then two
``MemoryShardCore`` shards load them, as a restarted cluster would.

Each repeat copies the untouched folder, opens the shards, and runs one consolidation over
every user through the ``ConsolidationScheduler`` with ``workers`` shards at once (in
process: each shard's run is a coroutine, its LanceDB and numpy work in threads; under Ray
each is a task in its own process). Timed: the whole run, wall clock; per step: the sum over
shards of each step's time. Throughput = memories / run seconds. Compaction is included.
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
    return planted


async def _consolidate(folder: Path, workers: int) -> dict[str, Any]:
    from echoray.config import EchoRayConfig
    from echoray.embeddings import HashEmbedder
    from echoray.local import make_local_consolidation, make_local_shards

    config = EchoRayConfig.model_validate(
        {
            "storage": {"uri": str(folder)},
            "embeddings": {"kind": "hash"},
            "memory": {"num_shards": 2},
            "consolidation": {"workers": workers, "keep_versions_s": 60},
        }
    )
    shards = make_local_shards(config, DIMENSION)
    scheduler = make_local_consolidation(config, shards, HashEmbedder(dimension=DIMENSION))
    started = time.perf_counter()
    run = await scheduler.run()
    seconds = time.perf_counter() - started
    result = run.as_dict()
    if run.state != "done":
        raise RuntimeError(f"consolidation ended {run.state}: {result['shards']}")
    return {"seconds": seconds, "counts": result["counts"], "ms": result["ms"]}


def run(ctx: BenchContext) -> BenchResult:
    scratch = ctx.out_dir / NAME
    shutil.rmtree(scratch, ignore_errors=True)
    pristine = scratch / "pristine"
    started = time.perf_counter()
    planted = seed(pristine, MEMORIES, USERS)
    seed_s = time.perf_counter() - started
    repeats = 1 if ctx.quick else ctx.repeats
    runs: dict[int, list[dict[str, Any]]] = {w: [] for w in WORKERS}
    for repeat in range(repeats):
        for workers in WORKERS if repeat % 2 == 0 else WORKERS[::-1]:
            folder = scratch / f"run-{workers}-{repeat}"
            shutil.copytree(pristine, folder)
            runs[workers].append(asyncio.run(_consolidate(folder, workers)))
            shutil.rmtree(folder, ignore_errors=True)
    figures: dict[str, Any] = {"planted": planted, "seed_s": seed_s}
    table = []
    for workers, measured in runs.items():
        seconds = summarize([m["seconds"] for m in measured])
        rate = summarize([MEMORIES / m["seconds"] for m in measured])
        steps = {k: summarize([m["ms"][k] for m in measured]) for k in measured[0]["ms"]}
        figures[f"workers_{workers}"] = {
            "seconds": seconds,
            "memories_per_s": rate,
            "step_ms": steps,
            "counts": measured[0]["counts"],
        }
        total = sum(float(s["median"]) for s in steps.values()) or 1.0
        table.append(
            {
                "workers": workers,
                "memories": MEMORIES,
                "run s": format_spread(seconds, 1),
                "memories/s": format_spread(rate, 0),
                "where the time goes (share of step time, summed over shards)": ", ".join(
                    f"{k} {float(v['median']) / total:.0%}" for k, v in steps.items()
                ),
            }
        )
    counts = runs[WORKERS[0]][0]["counts"]
    one, two = (float(figures[f"workers_{w}"]["seconds"]["median"]) for w in WORKERS)
    notes = [
        f"{MEMORIES} memories of {USERS} users on 2 shards; planted {planted}; one run "
        f"found: {counts}.",
        f"2 workers over 1: {one / two:.2f}x faster (in process; the two shard runs share "
        "one Python process and these 2 cores with each other).",
        "Step times are summed over shards, so with 2 workers they add up to more than the "
        "wall clock; 'read' is the one LanceDB read of a shard's rows per run.",
        f"Seeding (untimed): {seed_s:.1f} s straight to LanceDB."
        + (" Quick run: one repeat." if ctx.quick else ""),
    ]
    return BenchResult(
        name=NAME,
        params={
            "memories": MEMORIES,
            "users": USERS,
            "shards": 2,
            "workers": list(WORKERS),
            "repeats": repeats,
        },
        figures=figures,
        table=table,
        notes=notes,
    )
