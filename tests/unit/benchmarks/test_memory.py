"""Unit tests of the ``memory`` benchmark's pure helpers and of the echoray retriever's
timestamps. No model, no LanceDB, no Ray: milliseconds."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from benchmarks import memory
from benchmarks.retrieval.echoray_memory import UNDATED_EPOCH, session_times
from benchmarks.retrieval.locomo import Memory
from benchmarks.retrieval.retrievers import RETRIEVERS
from benchmarks.runner import BENCHMARKS


def test_memory_benchmark_and_echoray_retriever_are_registered() -> None:
    assert BENCHMARKS["memory"] == "benchmarks.memory"
    assert RETRIEVERS["echoray"].startswith("benchmarks.retrieval.echoray_memory:")


def test_importing_the_benchmark_modules_loads_no_heavy_library() -> None:
    code = (
        "import sys, benchmarks.memory, benchmarks.retrieval.echoray_memory;"
        "heavy = ('numpy', 'torch', 'lancedb', 'pyarrow', 'sentence_transformers', 'ray');"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_synthetic_texts_are_deterministic_and_varied() -> None:
    texts = memory.synthetic_texts(500, seed=3)
    assert texts == memory.synthetic_texts(500, seed=3)
    assert texts != memory.synthetic_texts(500, seed=4)
    assert len(set(texts)) > 490
    assert all(text and "{" not in text for text in texts)
    queries = memory.synthetic_queries(50)
    assert len(queries) == 50 and all(query.endswith("?") for query in queries)


def test_time_queries_runs_warmup_untimed() -> None:
    calls: list[int] = []
    samples = memory.time_queries(calls.append, queries=4, warmup=2)
    assert calls == [0, 1, 0, 1, 2, 3]
    assert len(samples) == 4 and all(sample >= 0 for sample in samples)


def test_summarize_repeats_and_scan_ratios() -> None:
    summary = memory.summarize_repeats([[1.0, 2.0, 3.0], [2.0, 2.0, 2.0], [3.0, 4.0, 5.0]])
    assert summary["p50_ms"]["median"] == pytest.approx(2.0)
    assert summary["p50_ms"]["min"] == pytest.approx(2.0)
    assert summary["p50_ms"]["max"] == pytest.approx(4.0)
    assert summary["p95_ms"]["n"] == 3
    paths = {
        "numpy_scan": {"p50_ms": {"median": 10.0}, "p95_ms": {"median": 20.0}},
        "dense": {"p50_ms": {"median": 12.0}, "p95_ms": {"median": 30.0}},
    }
    ratios = memory.scan_ratios(paths)  # type: ignore[arg-type]
    assert ratios == {
        "dense_vs_numpy_p50": pytest.approx(1.2),
        "dense_vs_numpy_p95": pytest.approx(1.5),
    }


def _spread(value: float) -> dict[str, float | int]:
    return {"median": value, "p5": value, "p95": value, "min": value, "max": value, "n": 1}


def _figures(dense_p95: float, search_p95: float, scan_p95: float, share: float) -> Any:
    paths = {
        name: {"p50_ms": _spread(p95 / 2), "p95_ms": _spread(p95)}
        for name, p95 in (
            ("numpy_scan", scan_p95),
            ("dense", dense_p95),
            ("search", search_p95),
            ("search_with_embedding", search_p95 + 5),
        )
    }
    search = {
        str(memory.TARGET_ROWS): {
            "rows": memory.TARGET_ROWS,
            "paths": paths,
            "ratios": memory.scan_ratios(paths),  # type: ignore[arg-type]
        }
    }
    ingest = {
        "texts": 128,
        "batch": 64,
        "embedding_only_per_s": _spread(100.0),
        "ingest_per_s": _spread(100.0 * share),
        "ingest_over_embedding": share,
        "ingest_time_share": {"embed": _spread(0.9), "records": _spread(0.0), "add": _spread(0.1)},
    }
    return search, ingest


def test_targets_judge_each_goal_of_the_issue() -> None:
    search, ingest = _figures(dense_p95=8.0, search_p95=16.0, scan_p95=7.0, share=0.85)
    found = memory.targets(search, ingest)
    assert found["dense_p95_ms_at_100k"]["met"] is True
    assert found["dense_p95_vs_numpy_at_100k"]["met"] is True  # 8 / 7 <= 1.5
    assert found["search_p95_ms_at_100k"]["met"] is False
    assert found["search_p95_vs_numpy_at_100k"]["met"] is False  # 16 / 7 > 1.5
    assert found["ingest_over_embedding"] == {"value": 0.85, "target": 0.8, "met": True}
    notes = memory.notes(search, ingest, found, quick=True)
    assert any("search excluding embedding" in note and "NOT met" in note for note in notes)
    assert any("1M" in note for note in notes)


def test_table_rows_share_one_set_of_columns() -> None:
    search, ingest = _figures(dense_p95=8.0, search_p95=16.0, scan_p95=7.0, share=0.7)
    query_embedding = {"p50_ms": _spread(5.0), "p95_ms": _spread(6.0)}
    rows = memory.table_rows(search, query_embedding, ingest)
    assert len(rows) == len(memory.PATHS) + 1 + 2
    assert all(list(row) == list(rows[0]) for row in rows)
    assert rows[0]["p95 / numpy p95"] is None  # the baseline itself
    assert rows[1]["p95 / numpy p95"] == pytest.approx(8.0 / 7.0, abs=0.01)
    assert rows[-1]["/ embedding-only"] == pytest.approx(0.7)


def _memory(session: int, created_at: datetime | None, index: int) -> Memory:
    return Memory(f"D{session}:{index}", "A: hi", created_at, session, "A")


def test_session_times_space_turns_within_each_session() -> None:
    day1, day2 = datetime(2023, 5, 8, 13, 56), datetime(2023, 5, 20, 9, 0)
    memories = [
        _memory(1, day1, 1),
        _memory(1, day1, 2),
        _memory(2, day2, 1),
        _memory(1, day1, 3),
        _memory(3, None, 1),
    ]
    times = session_times(memories, spacing_s=30)
    utc1 = day1.replace(tzinfo=UTC)
    assert times[0] == utc1
    assert times[1] == utc1 + timedelta(seconds=30)
    assert times[2] == day2.replace(tzinfo=UTC)
    assert times[3] == utc1 + timedelta(seconds=60)
    assert times[4] == UNDATED_EPOCH + timedelta(days=3)
    assert all(moment.tzinfo is not None for moment in times)
