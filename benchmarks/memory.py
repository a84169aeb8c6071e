"""``memory``: search latency and ingest throughput of echoray's memory layer.

Search latency, per size (1k, 10k and 100k memories of one user; 1M too in a full run): the
working set is filled with random unit vectors (384 values) and synthetic chat-like texts,
then each query is timed on four paths over the same memories:

- ``numpy scan`` (baseline): ``matrix @ q``, ``argpartition`` and a sort of the top k over
  one contiguous float32 matrix, the memory-bandwidth floor of any exact search;
- ``dense``: ``WorkingSet.dense_search`` with the user filter;
- ``search``: ``recall`` over the working set and a link graph, dense + BM25 + fusion +
  associations, the body of ``MemoryShardCore.search`` (no LanceDB read on this path); the
  synthetic memories have no links, so association finds nothing to add;
- ``search + embedding``: embedding the query text with MiniLM then ``search``, timed as one
  call per query (the full path of a search request, HTTP aside).

The query vectors of the first three paths are MiniLM embeddings of the query texts,
computed once, untimed. MiniLM query embedding alone is timed too. Each repeat times every
query once per path; a figure is the median over repeats of each repeat's p50 (or p95),
with min and max over repeats; ratios divide medians measured in the same run.

Ingest throughput: real synthetic texts are written through ``MemoryShardCore.add`` in
batches of 64 (MiniLM embedding, record validation, group commit to a real LanceDB folder
under ``<out>/memory``, working set, neighbour and temporal links) by one pipelined writer,
as an ingest job writes: batch n+1 is embedded (in a thread) while batch n is added, so at
most one add is in flight. It is measured against embedding the same texts in the same
batches with the same model alone.

Targets (from the issues): search p95 at most 10 ms at 100k memories excluding embedding and
within 1.5 times the numpy scan; at 1k memories (a chat user), search with the query embedding
at most 40 ms p95; ingest at least 80 % of embedding-only throughput.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from threadpoolctl import threadpool_limits

from benchmarks.contract import BenchContext, BenchResult
from benchmarks.stats import format_spread, percentile, ratio, summarize

if TYPE_CHECKING:
    import numpy as np

    from echoray.embeddings.minilm import MiniLMEmbedder
    from echoray.memory.records import MemoryRecord

NAME = "memory"
DIMENSION = 384
K = 10
TENANT = "bench"
USER = "user-1"
QUICK_SIZES = (1_000, 10_000, 100_000)
FULL_SIZES = (1_000, 10_000, 100_000, 1_000_000)
QUICK_QUERIES = 100
FULL_QUERIES = 200
# 1M rows take ~10x longer per query: fewer queries keep a full run within minutes.
FULL_QUERIES_AT_1M = 100
WARMUP_QUERIES = 5
QUICK_INGEST_TEXTS = 1_024
FULL_INGEST_TEXTS = 4_096
INGEST_BATCH = 64
SESSION_LENGTH = 32  # ingest: memories per session, one minute apart (temporal links)
TARGET_ROWS = 100_000
TARGET_P95_MS = 10.0
TARGET_SCAN_RATIO = 1.5
# A user of a chat assistant: 1k memories, searched with the query embedding included.
SMALL_USER_ROWS = 1_000
TARGET_SMALL_USER_P95_MS = 40.0
TARGET_INGEST_SHARE = 0.8

PATHS = ("numpy_scan", "dense", "search", "search_with_embedding")
PATH_LABELS = {
    "numpy_scan": "numpy exact scan (baseline)",
    "dense": "echoray dense_search",
    "search": "echoray search (recall)",
    "search_with_embedding": "echoray search + MiniLM query",
}

# --- synthetic texts -------------------------------------------------------------------------

_NAMES = (
    "Nadia", "Tomas", "Priya", "Jonas", "Amara", "Kenji", "Lucia", "Omar", "Greta", "Mateo",
    "Ines", "Rafael", "Yuki", "Sven", "Leila", "Hugo", "Zara", "Anton", "Mei", "Dmitri",
    "Chloe", "Idris", "Freya", "Pablo",
)  # fmt: skip
_PLACES = (
    "the farmers market", "the climbing gym", "Lisbon", "the library", "her parents' house",
    "the lake", "a jazz bar", "the office", "the dentist", "the bakery on Elm Street",
    "Berlin", "the botanical garden", "the cinema", "the ski resort", "the night market",
    "the pottery studio", "Kyoto", "the hospital", "the beach", "the bookshop",
)  # fmt: skip
_ACTIVITIES = (
    "went hiking", "cooked dinner together", "played chess", "watched a documentary",
    "repainted the kitchen", "practised the cello", "ran a half marathon", "baked sourdough",
    "planted tomatoes", "fixed the bicycle", "learned a new song", "visited a museum",
    "argued about politics", "planned the wedding", "walked the beagle", "went birdwatching",
    "built a bookshelf", "tried a new ramen place", "studied for the exam", "swam laps",
)  # fmt: skip
_THINGS = (
    "cello", "new job", "vegetable garden", "sourdough starter", "car", "laptop", "tattoo",
    "apartment", "thesis", "podcast", "marathon training", "sister's wedding", "beagle",
    "camera", "novel", "promotion", "piano", "road trip", "knee injury", "startup idea",
)  # fmt: skip
_FOODS = (
    "spicy ramen", "lemon cake", "mushroom risotto", "tacos", "green tea", "dark chocolate",
    "pho", "falafel", "oat milk lattes", "blueberry pancakes", "sushi", "lentil soup",
)  # fmt: skip
_DAYS = (
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
    "last weekend", "yesterday", "this morning", "last summer", "two weeks ago",
)  # fmt: skip
_FEELINGS = (
    "excited", "nervous", "exhausted", "proud", "relieved", "frustrated", "curious", "calm",
)  # fmt: skip
_TEMPLATES = (
    "{name} told me about the {thing} and sounded {feeling}.",
    "I went to {place} with {name} {day} and we {activity}.",
    "{name} prefers {food} over {food2}, remember that for the party.",
    "We {activity} at {place} {day}; {name} was {feeling} the whole time.",
    "{name} is saving up for a {thing} and checks prices every {day2}.",
    "Reminder: {name}'s birthday is on the {n}th, and they love {food}.",
    "{day}, {name} finally finished the {thing} after {n} months of work.",
    "{name} and I {activity} for {n} hours, then had {food} at {place}.",
    "I feel {feeling} about the {thing}; {name} said to give it {n} more weeks.",
    "{name} moved to {place} and misses {food} from home.",
    "Ask {name} how the {thing} went, they were {feeling} about it {day}.",
    "{name} recommended {place} for anyone who likes {food}.",
)
_QUESTIONS = (
    "What did {name} say about the {thing}?",
    "Where did I go with {name} {day}?",
    "What food does {name} like?",
    "When is {name}'s birthday?",
    "How does {name} feel about the {thing}?",
    "Who recommended {place}?",
    "What did we do at {place}?",
    "Which of my friends moved to {place}?",
)


def _fill(template: str, rng: random.Random) -> str:
    foods = rng.sample(_FOODS, 2)
    return template.format(
        name=rng.choice(_NAMES),
        place=rng.choice(_PLACES),
        activity=rng.choice(_ACTIVITIES),
        thing=rng.choice(_THINGS),
        food=foods[0],
        food2=foods[1],
        day=rng.choice(_DAYS),
        day2=rng.choice(_DAYS[:7]),
        feeling=rng.choice(_FEELINGS),
        n=rng.randint(2, 28),
    )


def synthetic_texts(count: int, seed: int = 0) -> list[str]:
    """``count`` varied chat-like memory texts, the same for the same seed."""
    rng = random.Random(seed)
    return [_fill(rng.choice(_TEMPLATES), rng) for _ in range(count)]


def synthetic_queries(count: int, seed: int = 1) -> list[str]:
    """``count`` questions over the vocabulary of :func:`synthetic_texts`."""
    rng = random.Random(seed)
    return [_fill(rng.choice(_QUESTIONS), rng) for _ in range(count)]


# --- timing helpers ------------------------------------------------------------------------


def time_queries(call: Callable[[int], object], queries: int, warmup: int) -> list[float]:
    """Milliseconds of ``call(i)`` for i in range(queries), after ``warmup`` untimed calls."""
    for i in range(warmup):
        call(i % max(queries, 1))
    samples = []
    for i in range(queries):
        started = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - started) * 1000.0)
    return samples


def summarize_repeats(per_repeat: Sequence[Sequence[float]]) -> dict[str, dict[str, float | int]]:
    """Each repeat's p50 and p95 (ms), summarised over repeats."""
    return {
        "p50_ms": summarize([percentile(samples, 50) for samples in per_repeat]),
        "p95_ms": summarize([percentile(samples, 95) for samples in per_repeat]),
    }


def scan_ratios(paths: dict[str, dict[str, dict[str, float | int]]]) -> dict[str, float | None]:
    """Median p50 and p95 of each echoray path divided by the numpy scan's (same run)."""
    base = paths["numpy_scan"]
    return {
        f"{path}_vs_numpy_{key[:3]}": ratio(
            float(paths[path][key]["median"]), float(base[key]["median"])
        )
        for path in PATHS
        if path != "numpy_scan" and path in paths
        for key in ("p50_ms", "p95_ms")
    }


# --- search latency ------------------------------------------------------------------------


def _unit_rows(rng: np.random.Generator, rows: int, chunk: int = 65_536) -> np.ndarray:
    import numpy as np

    matrix = np.empty((rows, DIMENSION), dtype=np.float32)
    for start in range(0, rows, chunk):
        block = rng.standard_normal((min(chunk, rows - start), DIMENSION), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        matrix[start : start + len(block)] = block
    return matrix


def _synthetic_records(matrix: np.ndarray, texts: Sequence[str]) -> Iterator[MemoryRecord]:
    from echoray.memory.records import MemoryRecord

    start = datetime(2025, 1, 1, tzinfo=UTC)
    for i, text in enumerate(texts):
        # model_construct: the data is valid by construction; validating 1M records is slow.
        yield MemoryRecord.model_construct(
            id=f"m{i}",
            tenant=TENANT,
            user=USER,
            session=f"s{i // 50}",
            kind="episodic",
            text=text,
            vector=matrix[i],
            created_at=start + timedelta(seconds=i),
            metadata={},
        )


def measure_search(
    rows: int,
    query_texts: Sequence[str],
    query_vectors: np.ndarray,
    embedder: MiniLMEmbedder,
    repeats: int,
    seed: int = 0,
) -> dict[str, Any]:
    """Latency of the four paths (see the module) over ``rows`` memories of one user."""
    import numpy as np

    from echoray.config import MemoryConfig
    from echoray.memory.graph import LinkGraph
    from echoray.memory.query import embedding_text
    from echoray.memory.recall import recall
    from echoray.memory.records import MemoryFilter
    from echoray.memory.working_set import WorkingSet

    started = time.perf_counter()
    matrix = _unit_rows(np.random.default_rng(seed), rows)
    texts = synthetic_texts(rows, seed)
    config = MemoryConfig()
    working_set = WorkingSet(DIMENSION, max_rows=max(rows, 1), dtype=config.working_set_dtype)
    working_set.load(_synthetic_records(matrix, texts))
    del texts
    build_seconds = time.perf_counter() - started

    graph = LinkGraph()
    flt = MemoryFilter(user=USER)
    queries = len(query_texts)

    def numpy_scan(i: int) -> object:
        scores = matrix @ query_vectors[i]
        top = np.argpartition(-scores, K - 1)[:K]
        return top[np.argsort(-scores[top])]

    def dense(i: int) -> object:
        return working_set.dense_search(TENANT, flt, query_vectors[i], K)

    def search_vector(vector: np.ndarray, text: str) -> object:
        return recall(
            working_set,
            graph,
            tenant=TENANT,
            flt=flt,
            query_vector=vector,
            query_text=text,
            limit=K,
            config=config,
        )

    def search(i: int) -> object:
        return search_vector(query_vectors[i], query_texts[i])

    def search_with_embedding(i: int) -> object:
        # As the memory service does: the query is embedded with the user's speakers'
        # names replaced by "they" (the service caches the speakers for 30 s).
        speakers = working_set.speakers(TENANT, USER)
        vector = embedder.embed([embedding_text(query_texts[i], speakers)])[0]
        return search_vector(vector, query_texts[i])

    calls: dict[str, Callable[[int], object]] = {
        "numpy_scan": numpy_scan,
        "dense": dense,
        "search": search,
        "search_with_embedding": search_with_embedding,
    }
    samples: dict[str, list[list[float]]] = {path: [] for path in PATHS}
    for _ in range(repeats):
        for path, call in calls.items():
            samples[path].append(time_queries(call, queries, WARMUP_QUERIES))
    paths = {path: summarize_repeats(samples[path]) for path in PATHS}
    return {
        "rows": rows,
        "queries": queries,
        "build_seconds": round(build_seconds, 2),
        "working_set_mib": round(working_set.nbytes / 2**20, 1),
        "paths": paths,
        "ratios": scan_ratios(paths),
    }


def measure_query_embedding(
    embedder: MiniLMEmbedder, query_texts: Sequence[str], repeats: int
) -> dict[str, Any]:
    """Latency of embedding one query text with MiniLM (one text per call)."""
    per_repeat = [
        time_queries(lambda i: embedder.embed([query_texts[i]]), len(query_texts), WARMUP_QUERIES)
        for _ in range(repeats)
    ]
    return summarize_repeats(per_repeat)


# --- ingest throughput ---------------------------------------------------------------------


def _embed_only(embedder: MiniLMEmbedder, texts: Sequence[str], batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        embedder.embed(list(texts[start : start + batch]))
    return time.perf_counter() - started


async def _ingest(
    folder: Path, embedder: MiniLMEmbedder, texts: Sequence[str], batch: int
) -> dict[str, float]:
    """Write ``texts`` through a fresh ``MemoryShardCore`` on LanceDB at ``folder``; the
    seconds of the whole write loop and of its phases (opening the store is not timed)."""
    from echoray.config import MemoryConfig
    from echoray.memory.core import MemoryShardCore
    from echoray.memory.records import MemoryRecord
    from echoray.memory.store import LanceDBStore

    config = MemoryConfig()
    core = MemoryShardCore(LanceDBStore(str(folder), DIMENSION, limits=config), config)
    epoch = datetime(2025, 1, 1, tzinfo=UTC)
    # embed and records: time spent on them; add_wait: time the writer waited for the
    # previous add to finish after embedding the next batch (the add not hidden by overlap).
    phases = {"embed": 0.0, "records": 0.0, "add_wait": 0.0}
    pending: asyncio.Task[Any] | None = None

    async def settle(task: asyncio.Task[Any], expected: int) -> None:
        mark = time.perf_counter()
        result = await task
        phases["add_wait"] += time.perf_counter() - mark
        if len(result.inserted) != expected:
            raise RuntimeError(f"ingest stored {len(result.inserted)} of {expected} records")

    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        chunk = list(texts[start : start + batch])
        mark = time.perf_counter()
        vectors = await asyncio.to_thread(embedder.embed, chunk)
        phases["embed"] += time.perf_counter() - mark
        mark = time.perf_counter()
        records = [
            MemoryRecord.build(
                id=f"r{start + offset}",
                tenant=TENANT,
                user=USER,
                session=f"s{(start + offset) // SESSION_LENGTH}",
                text=text,
                vector=vectors[offset],
                created_at=epoch + timedelta(minutes=start + offset),
            )
            for offset, text in enumerate(chunk)
        ]
        phases["records"] += time.perf_counter() - mark
        if pending is not None:
            await settle(pending, batch)
        pending = asyncio.create_task(core.add(TENANT, USER, records))
        await asyncio.sleep(0)  # let the add start before the next embedding
    if pending is not None:
        await settle(pending, len(texts) - (len(texts) - 1) // batch * batch)
    total = time.perf_counter() - started
    await core.close()
    stored = len(core.working_set) if core.working_set is not None else -1
    if stored != len(texts):
        raise RuntimeError(f"working set holds {stored} of {len(texts)} ingested memories")
    return {"total": total, **phases, "links": float(len(core.graph))}


def measure_ingest(
    embedder: MiniLMEmbedder, texts: Sequence[str], batch: int, repeats: int, scratch: Path
) -> dict[str, Any]:
    """Ingest and embedding-only throughput (memories/s) over ``repeats`` paired runs."""
    scratch.mkdir(parents=True, exist_ok=True)

    def ingest_once(count: int) -> dict[str, float]:
        folder = Path(tempfile.mkdtemp(prefix="ingest-", dir=scratch))
        try:
            return asyncio.run(_ingest(folder, embedder, texts[:count], batch))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    # numpy's BLAS on one thread in both arms, as in a shard actor (see MemoryShard): the
    # embedder runs on torch's MKL threads, and OpenBLAS threads woken by the add's small
    # neighbour products would spin against them on these 2 cores (0.75-0.77 of
    # embedding-only throughput with two BLAS threads against 0.84-0.91 with one).
    with threadpool_limits(1, user_api="blas"):
        return _measure_ingest(embedder, texts, batch, repeats, ingest_once)


def _measure_ingest(
    embedder: MiniLMEmbedder,
    texts: Sequence[str],
    batch: int,
    repeats: int,
    ingest_once: Callable[[int], dict[str, float]],
) -> dict[str, Any]:
    embedder.embed(list(texts[:batch]))  # warm-up: model and tokenizer caches
    ingest_once(batch)  # warm-up: LanceDB code paths, table creation
    embed_rates, ingest_rates, shares = [], [], []
    phases: dict[str, list[float]] = {"embed": [], "records": [], "add_wait": []}
    links = 0.0
    for repeat in range(repeats):
        # Alternate which goes first, so neither always runs on a warmer (or busier) machine.
        if repeat % 2 == 0:
            embed_seconds = _embed_only(embedder, texts, batch)
            measured = ingest_once(len(texts))
        else:
            measured = ingest_once(len(texts))
            embed_seconds = _embed_only(embedder, texts, batch)
        embed_rates.append(len(texts) / embed_seconds)
        ingest_rates.append(len(texts) / measured["total"])
        shares.append(embed_seconds / measured["total"])
        for phase in phases:
            phases[phase].append(measured[phase] / measured["total"])
        links = measured["links"]
    embed_summary, ingest_summary = summarize(embed_rates), summarize(ingest_rates)
    return {
        "texts": len(texts),
        "batch": batch,
        "embedding_only_per_s": embed_summary,
        "ingest_per_s": ingest_summary,
        "ingest_over_embedding": ratio(
            float(ingest_summary["median"]), float(embed_summary["median"])
        ),
        "ingest_over_embedding_paired": summarize(shares),
        "ingest_time_share": {phase: summarize(values) for phase, values in phases.items()},
        "links_made": int(links),
    }


# --- result --------------------------------------------------------------------------------


def targets(search: dict[str, Any], ingest: dict[str, Any]) -> dict[str, Any]:
    """Whether each target of the issue is met, with the measured value it was judged on."""
    found: dict[str, Any] = {}
    at_target = search.get(str(TARGET_ROWS))
    if at_target is not None:
        for path in ("dense", "search"):
            p95 = float(at_target["paths"][path]["p95_ms"]["median"])
            scan = at_target["ratios"][f"{path}_vs_numpy_p95"]
            found[f"{path}_p95_ms_at_100k"] = {
                "value": p95,
                "target": TARGET_P95_MS,
                "met": p95 <= TARGET_P95_MS,
            }
            found[f"{path}_p95_vs_numpy_at_100k"] = {
                "value": scan,
                "target": TARGET_SCAN_RATIO,
                "met": scan is not None and scan <= TARGET_SCAN_RATIO,
            }
    small = search.get(str(SMALL_USER_ROWS))
    if small is not None:
        p95 = float(small["paths"]["search_with_embedding"]["p95_ms"]["median"])
        found["search_with_embedding_p95_ms_at_1k"] = {
            "value": p95,
            "target": TARGET_SMALL_USER_P95_MS,
            "met": p95 <= TARGET_SMALL_USER_P95_MS,
        }
    share = ingest["ingest_over_embedding"]
    found["ingest_over_embedding"] = {
        "value": share,
        "target": TARGET_INGEST_SHARE,
        "met": share is not None and share >= TARGET_INGEST_SHARE,
    }
    return found


def _empty_row() -> dict[str, Any]:
    return {
        "measure": None,
        "memories": None,
        "path": None,
        "p50 ms [min-max]": None,
        "p95 ms [min-max]": None,
        "p95 / numpy p95": None,
        "memories/s [min-max]": None,
        "/ embedding-only": None,
    }


def table_rows(
    search: dict[str, Any], query_embedding: dict[str, Any], ingest: dict[str, Any]
) -> list[dict[str, Any]]:
    """One row per (size, path) of search latency, query embedding alone, the ingest rows."""
    rows: list[dict[str, Any]] = []
    for size in search.values():
        for path in PATHS:
            measured = size["paths"][path]
            scan = size["ratios"].get(f"{path}_vs_numpy_p95")
            rows.append(
                _empty_row()
                | {
                    "measure": "search latency",
                    "memories": size["rows"],
                    "path": PATH_LABELS[path],
                    "p50 ms [min-max]": format_spread(measured["p50_ms"], 2),
                    "p95 ms [min-max]": format_spread(measured["p95_ms"], 2),
                    "p95 / numpy p95": None if scan is None else round(scan, 2),
                }
            )
    rows.append(
        _empty_row()
        | {
            "measure": "query embedding",
            "path": "MiniLM, one query text",
            "p50 ms [min-max]": format_spread(query_embedding["p50_ms"], 2),
            "p95 ms [min-max]": format_spread(query_embedding["p95_ms"], 2),
        }
    )
    share = ingest["ingest_over_embedding"]
    for label, key, value in (
        ("MiniLM embedding only (baseline)", "embedding_only_per_s", None),
        ("MemoryShardCore.add with embedding", "ingest_per_s", share),
    ):
        rows.append(
            _empty_row()
            | {
                "measure": f"ingest, batches of {ingest['batch']}",
                "memories": ingest["texts"],
                "path": label,
                "memories/s [min-max]": format_spread(ingest[key], 0),
                "/ embedding-only": None if value is None else round(value, 2),
            }
        )
    return rows


def _verdict(target: dict[str, Any]) -> str:
    return "met" if target["met"] else "NOT met"


def notes(
    search: dict[str, Any], ingest: dict[str, Any], found: dict[str, Any], quick: bool
) -> list[str]:
    """Sentences under the table: targets, what each figure includes, caveats."""
    lines = []
    for path in ("dense", "search"):
        latency = found.get(f"{path}_p95_ms_at_100k")
        scan = found.get(f"{path}_p95_vs_numpy_at_100k")
        if latency and scan:
            lines.append(
                f"Target at 100k, {path} excluding embedding: p95 {latency['value']:.2f} ms "
                f"(target <= {TARGET_P95_MS:.0f} ms: {_verdict(latency)}), "
                f"{scan['value']:.2f}x the numpy scan's p95 (target <= {TARGET_SCAN_RATIO}x: "
                f"{_verdict(scan)})."
            )
    share = found["ingest_over_embedding"]
    value = share["value"]
    lines.append(
        f"Target ingest >= {TARGET_INGEST_SHARE:.0%} of embedding-only throughput: "
        f"{'n/a' if value is None else f'{value:.0%}'} ({_verdict(share)}); time shares of "
        "the writer's time (add_wait = waiting for an add the embedding did not hide): "
        + ", ".join(
            f"{phase} {summary['median']:.0%}"
            for phase, summary in ingest["ingest_time_share"].items()
        )
        + "."
    )
    lines.append(
        "search = recall() over the working set and link graph (standardised dense + BM25 "
        "fusion, speaker/time boosts, turn and session lifts), the body of "
        "MemoryShardCore.search, on the default working "
        "set (" + _config_summary() + "); the numpy baseline scans a float32 matrix of the "
        "same vectors; the synthetic memories are random "
        "unit vectors with chat-like texts and no links. 'search + MiniLM query' times "
        "embedding the query text and searching as one call per query."
    )
    lines.append(
        "Ingest: one pipelined writer through MemoryShardCore.add (embedding, record "
        "validation, group commit to LanceDB on local disk, working set, neighbour and "
        "temporal links); batch n+1 is embedded while batch n is added, one add in flight; "
        "opening the store is not timed; numpy's BLAS runs on one thread in both arms, as "
        "in a shard actor (torch's MKL threads embed)."
    )
    lines.append(
        "Latency cells: median over repeats of each repeat's p50/p95, [min-max] over repeats; "
        "throughput cells: median [min-max] over repeats."
    )
    if quick:
        lines.append("Quick run: 10k and 100k memories only (1M in a full run).")
    return lines


def plot_memory(search: dict[str, Any], ingest: dict[str, Any], path: Path) -> None:
    """Left: p95 latency against memories per path (log-log); right: ingest throughput."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(
        1, 2, figsize=(10, 4.2), dpi=120, gridspec_kw={"width_ratios": [3, 2]}
    )
    sizes = [entry["rows"] for entry in search.values()]
    for name in PATHS:
        p95 = [entry["paths"][name]["p95_ms"] for entry in search.values()]
        medians = [float(s["median"]) for s in p95]
        errors = [
            [m - float(s["min"]) for m, s in zip(medians, p95, strict=True)],
            [float(s["max"]) - m for m, s in zip(medians, p95, strict=True)],
        ]
        left.errorbar(sizes, medians, yerr=errors, marker="o", capsize=3, label=PATH_LABELS[name])
    left.axhline(TARGET_P95_MS, color="grey", linestyle=":", label=f"target {TARGET_P95_MS:.0f} ms")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("memories of one user")
    left.set_ylabel("p95 latency per query (ms)")
    left.set_title("Search latency (k = 10)", fontsize=10)
    left.grid(True, alpha=0.3)
    left.legend(fontsize=7)

    labels = ["embedding only", "ingest (add)"]
    summaries = [ingest["embedding_only_per_s"], ingest["ingest_per_s"]]
    medians = [float(s["median"]) for s in summaries]
    errors = [
        [m - float(s["min"]) for m, s in zip(medians, summaries, strict=True)],
        [float(s["max"]) - m for m, s in zip(medians, summaries, strict=True)],
    ]
    right.bar(labels, medians, yerr=errors, capsize=4, color=["tab:grey", "tab:blue"])
    right.axhline(
        TARGET_INGEST_SHARE * medians[0], color="tab:red", linestyle=":", label="80% target"
    )
    right.set_ylabel("memories per second")
    right.set_title(f"Ingest, {ingest['texts']} texts, batches of {ingest['batch']}", fontsize=10)
    right.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _config_summary() -> str:
    from echoray.config import MemoryConfig

    config = MemoryConfig()
    return (
        f"MemoryConfig() defaults ({config.working_set_dtype} working set, lexical weight "
        f"{config.lexical_weight}, BM25 k1 {config.bm25_k1} b {config.bm25_b})"
    )


def _thread_settings() -> dict[str, Any]:
    import torch

    settings: dict[str, Any] = {"torch_threads": torch.get_num_threads()}
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        settings[name] = os.environ.get(name)
    return settings


def run(ctx: BenchContext) -> BenchResult:
    """Measure search latency per size and ingest throughput; see the module docstring."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # torch's OpenMP workers otherwise spin for a while after each MiniLM or float16 scan
    # call and slow the numpy baseline (and OpenBLAS) that runs next in this process.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from echoray.embeddings.minilm import MiniLMEmbedder

    load_average = os.getloadavg()
    repeats = max(1, ctx.repeats)
    sizes = QUICK_SIZES if ctx.quick else FULL_SIZES
    base_queries = QUICK_QUERIES if ctx.quick else FULL_QUERIES
    embedder = MiniLMEmbedder()
    query_texts = synthetic_queries(base_queries)
    query_vectors = embedder.embed(query_texts)  # untimed: the paths excluding embedding

    query_embedding = measure_query_embedding(embedder, query_texts, repeats)
    search: dict[str, Any] = {}
    for rows in sizes:
        count = FULL_QUERIES_AT_1M if rows >= 1_000_000 else base_queries
        search[str(rows)] = measure_search(
            rows, query_texts[:count], query_vectors[:count], embedder, repeats
        )
    ingest_texts = synthetic_texts(QUICK_INGEST_TEXTS if ctx.quick else FULL_INGEST_TEXTS, 7)
    scratch = ctx.out_dir / NAME
    ingest = measure_ingest(embedder, ingest_texts, INGEST_BATCH, repeats, scratch)
    shutil.rmtree(scratch, ignore_errors=True)

    found = targets(search, ingest)
    threads = _thread_settings()
    machine_note = (
        f"torch threads {threads['torch_threads']}, OMP_NUM_THREADS "
        f"{threads['OMP_NUM_THREADS'] or 'unset'}; load average at start "
        f"{load_average[0]:.2f}; other processes on the machine slow these figures."
    )
    return BenchResult(
        name=NAME,
        params={
            "sizes": list(sizes),
            "quick_cut": "1M memories skipped (10k and 100k only)" if ctx.quick else None,
            "queries_per_repeat": {str(rows): search[str(rows)]["queries"] for rows in sizes},
            "warmup_queries": WARMUP_QUERIES,
            "k": K,
            "dimension": DIMENSION,
            "search_memories": "random unit float32 vectors, synthetic chat-like texts, one user",
            "query_vectors": "MiniLM embeddings of synthetic questions (untimed except on the "
            "'search + embedding' path)",
            "embedding_model": f"all-MiniLM-L6-v2 ({embedder.model_name}) via MiniLMEmbedder, CPU",
            "memory_config": _config_summary(),
            "ingest_texts": ingest["texts"],
            "ingest_batch": INGEST_BATCH,
            "ingest_store": "LanceDB on local disk under the results folder, fresh per repeat",
            "repeats": repeats,
            "threads": threads,
            "load_average_at_start": [round(value, 2) for value in load_average],
        },
        figures={
            "search": search,
            "query_embedding_ms": query_embedding,
            "ingest": ingest,
            "targets": found,
        },
        table=table_rows(search, query_embedding, ingest),
        notes=[*notes(search, ingest, found, ctx.quick), machine_note],
        plot=partial(plot_memory, search, ingest),
    )
