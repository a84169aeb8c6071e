"""Search latency of the working set against a plain numpy scan (memory layer, measurement).

``measure_search`` fills a ``WorkingSet`` with ``rows`` memories of one user (random unit
vectors, texts from a small vocabulary) and times, per query, excluding embedding:

- ``numpy_scan``: ``matrix @ q`` plus ``argpartition`` and a sort of the top k over the
  same contiguous matrix, the floor any exact search pays;
- ``dense``: ``WorkingSet.dense_search`` with the user filter;
- ``dense_filtered``: the same with a session filter (about a tenth of the rows);
- ``lexical``: BM25 over the same rows;
- ``recall``: dense + lexical + fusion (no links), what a search request runs.

It returns percentiles in milliseconds and prints nothing; ``python -m
echoray.memory.bench`` prints them. The issue's target: dense p95 at most 10 ms for 100k
memories and at most 1.5 times the numpy scan.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from echoray.config import MemoryConfig
from echoray.memory.recall import recall
from echoray.memory.records import MemoryFilter, MemoryRecord
from echoray.memory.working_set import WorkingSet

_VOCABULARY = [f"word{i}" for i in range(2000)]


def _records(rows: int, dimension: int, rng: np.random.Generator) -> list[MemoryRecord]:
    vectors = rng.standard_normal((rows, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = rng.integers(0, len(_VOCABULARY), size=(rows, 12))
    start = datetime(2025, 1, 1, tzinfo=UTC)
    # model_construct: the data is made valid here, and validating 100k records is slow.
    return [
        MemoryRecord.model_construct(
            id=f"m{i}",
            tenant="bench",
            user="user-1",
            session=f"s{i % 10}",
            kind="episodic",
            text=" ".join(_VOCABULARY[w] for w in words[i]),
            vector=vectors[i],
            created_at=start + timedelta(seconds=i),
            metadata={},
        )
        for i in range(rows)
    ]


def _percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.asarray(samples) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "mean_ms": round(float(ms.mean()), 3),
    }


def _time(run: Callable[[int], Any], queries: int, warmup: int = 5) -> dict[str, float]:
    for i in range(warmup):
        run(i)
    samples = []
    for i in range(queries):
        started = time.perf_counter()
        run(i)
        samples.append(time.perf_counter() - started)
    return _percentiles(samples)


def measure_search(
    rows: int = 100_000,
    dimension: int = 384,
    queries: int = 200,
    k: int = 10,
    seed: int = 0,
    dtype: str = MemoryConfig().working_set_dtype,
) -> dict[str, Any]:
    """Latency percentiles (ms) of working-set search and of a numpy scan; see the module."""
    rng = np.random.default_rng(seed)
    records = _records(rows, dimension, rng)
    started = time.perf_counter()
    ws = WorkingSet(dimension, max_rows=max(rows, 1), dtype=dtype)  # type: ignore[arg-type]
    ws.load(records)
    load_s = time.perf_counter() - started
    matrix = np.ascontiguousarray(np.stack([r.vector for r in records]))
    query_vectors = rng.standard_normal((queries + 5, dimension)).astype(np.float32)
    query_vectors /= np.linalg.norm(query_vectors, axis=1, keepdims=True)
    query_texts = [
        " ".join(_VOCABULARY[w] for w in rng.integers(0, len(_VOCABULARY), 3))
        for _ in range(queries + 5)
    ]
    user = MemoryFilter.build(user="user-1")
    session = MemoryFilter.build(user="user-1", session="s3")
    config = MemoryConfig()

    def numpy_scan(i: int) -> np.ndarray:
        scores = matrix @ query_vectors[i]
        top = np.argpartition(-scores, k - 1)[:k]
        return top[np.argsort(-scores[top])]

    timings = {
        "numpy_scan": _time(numpy_scan, queries),
        "dense": _time(lambda i: ws.dense_search("bench", user, query_vectors[i], k), queries),
        "dense_filtered": _time(
            lambda i: ws.dense_search("bench", session, query_vectors[i], k), queries
        ),
        "lexical": _time(lambda i: ws.lexical_search("bench", user, query_texts[i], k), queries),
        "recall": _time(
            lambda i: recall(
                ws,
                None,
                tenant="bench",
                flt=user,
                query_vector=query_vectors[i],
                query_text=query_texts[i],
                limit=k,
                config=config,
            ),
            queries,
        ),
    }
    return {
        "rows": rows,
        "dimension": dimension,
        "queries": queries,
        "k": k,
        "dtype": dtype,
        "load_s": round(load_s, 2),
        **timings,
        "dense_p95_over_numpy_p95": round(
            timings["dense"]["p95_ms"] / timings["numpy_scan"]["p95_ms"], 3
        ),
    }


def main(argv: list[str] | None = None) -> None:
    """Print ``measure_search`` as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--dtype", choices=["float32", "float16"], default=MemoryConfig().working_set_dtype
    )
    args = parser.parse_args(argv)
    result = measure_search(args.rows, args.dimension, args.queries, dtype=args.dtype)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
