"""Unit tests of the ``pipeline`` benchmark's pure helpers. No model, no LanceDB, no Ray,
no app: milliseconds."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from benchmarks import pipeline
from benchmarks.runner import BENCHMARKS


def test_pipeline_benchmark_is_registered_and_imports_light() -> None:
    assert BENCHMARKS["pipeline"] == "benchmarks.pipeline"
    code = (
        "import sys, benchmarks.pipeline;"
        "heavy = ('numpy', 'torch', 'lancedb', 'pyarrow', 'sentence_transformers', 'ray', "
        "'openai', 'httpx', 'fastapi');"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_reply_text_is_one_token_per_word() -> None:
    reply = pipeline.reply_text(32)
    assert len(reply.split()) == 32
    assert reply == pipeline.reply_text(32)


def test_added_latency_pairs_the_modes_within_each_repeat() -> None:
    plain = [[10.0, 10.0, 10.0], [20.0, 20.0, 20.0], [10.0, 10.0, 30.0]]
    memory = [[25.0, 25.0, 25.0], [40.0, 40.0, 40.0], [22.0, 22.0, 50.0]]
    added = pipeline.added_latency(plain, memory)
    # per repeat p50: 15, 20, 12 -> median 15, min 12, max 20
    assert added["p50_ms"]["median"] == pytest.approx(15.0)
    assert added["p50_ms"]["min"] == pytest.approx(12.0)
    assert added["p50_ms"]["max"] == pytest.approx(20.0)
    # per repeat p95: 15, 20, 47.2 - 28 = 19.2 (linear interpolation) -> median 19.2
    assert added["p95_ms"]["median"] == pytest.approx(19.2)
    assert added["p95_ms"]["max"] == pytest.approx(20.0)
    assert added["p95_ms"]["n"] == 3
    with pytest.raises(ValueError, match="repeats"):
        pipeline.added_latency(plain, memory[:2])


def test_target_verdict_at_the_boundary() -> None:
    def added(p50: float) -> Any:
        return {"p50_ms": {"median": p50}, "p95_ms": {"median": p50 * 2}}

    assert pipeline.target_verdict(added(30.0)) == {"value": 30.0, "target": 30.0, "met": True}
    assert pipeline.target_verdict(added(30.01))["met"] is False


def test_stage_figures_keep_pipeline_order_and_sum_the_stages_before_inference() -> None:
    repeat = [
        {"embed": 20.0, "memory_fetch": 5.0, "context_building": 1.0, "inference": 70.0},
        {"embed": 22.0, "memory_fetch": 7.0, "inference": 72.0},  # a stage that did not run
    ]
    figures = pipeline.stage_figures([repeat, repeat])
    assert list(figures) == [
        "embed",
        "memory_fetch",
        "context_building",
        "inference",
        pipeline.PIPELINE_TOTAL,
    ]
    assert figures["embed"]["p50_ms"]["median"] == pytest.approx(21.0)
    assert figures["context_building"]["p50_ms"]["median"] == pytest.approx(0.5)
    assert figures[pipeline.PIPELINE_TOTAL]["p50_ms"]["median"] == pytest.approx(27.5)
    assert pipeline.pipeline_total(repeat[0]) == pytest.approx(26.0)


def _trace(embed: float, fetch: float) -> dict[str, Any]:
    return {
        "stages_ms": {"embed": embed, "memory_fetch": fetch, "inference": 70.0},
        "memories": [{"id": "m1"}, {"id": "m2"}],
        "context_tokens": 40,
        "degraded": [],
    }


def _measured(extra_ms: float) -> dict[str, Any]:
    plain = [[70.0, 71.0, 72.0, 73.0] for _ in range(3)]
    memory = [[value + extra_ms for value in samples] for samples in plain]
    return {
        "samples": {"plain": plain, "memory": memory, "memory_no_trace": memory},
        "traces": [[_trace(20.0, 4.0), _trace(22.0, 6.0)] for _ in range(3)],
        "capture": {"ms": [10.0, 12.0, 30.0], "stall_ms": [8.0, 9.0, 25.0]},
    }


def test_summarize_run_table_and_notes() -> None:
    figures = pipeline.summarize_run(_measured(extra_ms=35.0), memories=10_000)
    assert figures["added_ms"]["memory"]["p50_ms"]["median"] == pytest.approx(35.0)
    assert figures["target"]["met"] is False
    assert figures["stages_ms"][pipeline.PIPELINE_TOTAL]["p50_ms"]["median"] == pytest.approx(26.0)
    assert figures["outside_stages_p50_ms"] == pytest.approx(9.0)
    assert figures["context"]["memories_in_context"]["median"] == 2
    assert figures["capture_ms"]["n"] == 3
    assert figures["capture_ms"]["longest_loop_stall"]["median"] == pytest.approx(9.0)

    rows = pipeline.table_rows(figures)
    assert all(list(row) == list(rows[0]) for row in rows)
    # 3 modes, 2 added rows, 3 stages + the total, capture and its loop stall
    assert len(rows) == 3 + 2 + 4 + 2
    assert rows[3]["measure"] == "added over plain"
    assert rows[3]["p50 ms [min-max]"] == "35.00 [35.00-35.00]"

    params = {
        "memories": 10_000,
        "prefill": {"embed_seconds": 55.0, "add_seconds": 9.0, "batch": 512, "links": 7},
        "queries_per_repeat": 40,
        "captures": 10,
    }
    lines = pipeline.notes(figures, params, quick=True)
    assert "NOT met" in lines[0] and "35.00 ms" in lines[0]
    assert lines[1].startswith("Stages before inference") and "embed 21.00" in lines[1]
    assert any(line.startswith("Quick run") for line in lines)
    met = pipeline.summarize_run(_measured(extra_ms=25.0), memories=10_000)
    assert "(met)" in pipeline.notes(met, params, quick=False)[0]
