"""Unit tests of the benchmark helpers: retrieval metrics, evidence normaliser, statistics,
the LoCoMo loader and BM25. Pure Python, no model, no Ray: milliseconds."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

import pytest

from benchmarks.report import existing_sections, markdown_table, write_report
from benchmarks.retrieval.bm25 import BM25Index, tokenize
from benchmarks.retrieval.evidence import normalize_evidence
from benchmarks.retrieval.locomo import load_locomo, parse_locomo, parse_session_date
from benchmarks.retrieval.metrics import (
    QuestionOutcome,
    aggregate,
    all_found_at_k,
    group_names,
    recall_at_k,
    reciprocal_rank,
)
from benchmarks.runner import BENCHMARKS, UnknownBenchmarkError, resolve_names
from benchmarks.stats import median, percentile, ratio, summarize

# --- recall@k, all-found@k, MRR -------------------------------------------------------------


def test_recall_at_k_counts_fraction_of_evidence_in_top_k() -> None:
    ranked = ["a", "b", "c", "d"]
    relevant = ["b", "d", "x"]
    assert recall_at_k(ranked, relevant, 1) == 0.0
    assert recall_at_k(ranked, relevant, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, relevant, 4) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, relevant, 20) == pytest.approx(2 / 3)  # k beyond the ranking


def test_recall_duplicate_ids_use_a_slot_but_count_once() -> None:
    assert recall_at_k(["a", "a", "b"], ["b"], 2) == 0.0
    assert recall_at_k(["a", "a", "b"], ["b"], 3) == 1.0
    assert recall_at_k(["b", "b", "c"], ["b", "c"], 2) == 0.5
    assert recall_at_k(["b"], ["b", "b"], 1) == 1.0  # repeated evidence is one id


def test_all_found_at_k_needs_every_evidence_id() -> None:
    ranked = ["b", "x", "d"]
    assert all_found_at_k(ranked, ["b", "d"], 2) == 0.0
    assert all_found_at_k(ranked, ["b", "d"], 3) == 1.0
    assert all_found_at_k(ranked, ["b"], 1) == 1.0
    assert all_found_at_k([], ["b"], 10) == 0.0


def test_reciprocal_rank_of_first_relevant_hit() -> None:
    assert reciprocal_rank(["x", "y", "b", "d"], ["b", "d"]) == pytest.approx(1 / 3)
    assert reciprocal_rank(["d"], ["b", "d"]) == 1.0
    assert reciprocal_rank(["x", "x", "b"], ["b"]) == pytest.approx(1 / 3)  # duplicates count
    assert reciprocal_rank(["x", "y"], ["b"]) == 0.0  # no hit
    assert reciprocal_rank([], ["b"]) == 0.0


def test_metrics_refuse_empty_evidence_and_bad_k() -> None:
    with pytest.raises(ValueError):
        recall_at_k(["a"], [], 1)
    with pytest.raises(ValueError):
        reciprocal_rank(["a"], [])
    with pytest.raises(ValueError):
        all_found_at_k(["a"], ["a"], 0)


def test_aggregate_keeps_adversarial_out_of_overall() -> None:
    outcomes = [
        QuestionOutcome(category=4, relevant=("a",), ranked=("a", "b")),
        QuestionOutcome(category=1, relevant=("c", "z"), ranked=("a", "b", "c")),
        QuestionOutcome(category=5, relevant=("b",), ranked=("a", "b")),
    ]
    groups = aggregate(outcomes, ks=(1, 5))
    assert list(groups) == ["overall", "multi-hop", "single-hop", "adversarial"]
    overall = groups["overall"]
    assert overall["n"] == 2
    assert overall["recall@1"] == pytest.approx(0.5)  # (1 + 0) / 2
    assert overall["recall@5"] == pytest.approx(0.75)  # (1 + 1/2) / 2
    assert overall["all_found@5"] == pytest.approx(0.5)  # "z" is never found
    assert overall["mrr"] == pytest.approx((1 + 1 / 3) / 2)
    assert groups["adversarial"] == {
        "n": 1,
        "recall@1": 0.0,
        "recall@5": 1.0,
        "all_found@1": 0.0,
        "all_found@5": 1.0,
        "mrr": 0.5,
    }


def test_group_names_per_category() -> None:
    assert group_names(4) == ["overall", "single-hop"]
    assert group_names(2) == ["overall", "temporal"]
    assert group_names(5) == ["adversarial"]
    assert group_names(9) == ["category-9"]
    assert group_names(None) == []


# --- evidence normaliser --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "ids"),
    [
        (["D1:3"], ["D1:3"]),
        (["D 1:3"], ["D1:3"]),
        (["D1: 3"], ["D1:3"]),
        (["D1 : 3"], ["D1:3"]),
        (["d1:3"], ["D1:3"]),
        (["D1:3."], ["D1:3"]),
        (["D1:3;"], ["D1:3"]),
        (["D01:03"], ["D1:3"]),
        (["D:1:3"], ["D1:3"]),
        (["D1:3; D2:4"], ["D1:3", "D2:4"]),
        (["D1:3 D2:4"], ["D1:3", "D2:4"]),
        (["D1:3,D2:4"], ["D1:3", "D2:4"]),
        (["D1:3", "D 1:3"], ["D1:3"]),  # the same id twice is one id
        (["D10:12", "d2:1"], ["D10:12", "D2:1"]),  # first-seen order kept
    ],
)
def test_normalize_evidence_canonicalises_malformed_ids(raw: list[str], ids: list[str]) -> None:
    assert normalize_evidence(raw) == (ids, [])


def test_normalize_evidence_reports_junk_as_unparsed() -> None:
    ids, unparsed = normalize_evidence(
        ["see above", "D1", "", "  ", 5, None, "D2:4 and D3", "D1:3; n/a"]
    )
    assert ids == ["D2:4", "D1:3"]
    assert unparsed == ["see above", "D1", "5", "None", "D2:4 and D3", "n/a"]


# --- statistics -----------------------------------------------------------------------------


def test_percentile_interpolates_linearly_like_numpy() -> None:
    samples = [4.0, 1.0, 3.0, 2.0]
    assert percentile(samples, 50) == 2.5
    assert percentile(samples, 5) == pytest.approx(1.15)
    assert percentile(samples, 95) == pytest.approx(3.85)
    assert percentile(samples, 0) == 1.0
    assert percentile(samples, 100) == 4.0
    assert percentile([7.0], 95) == 7.0
    assert median([3, 1, 2]) == 2.0


def test_percentile_rejects_empty_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)
    with pytest.raises(ValueError):
        summarize([])


def test_summarize_and_ratio() -> None:
    summary = summarize([3, 1, 2])
    assert summary == {
        "median": 2.0,
        "p5": pytest.approx(1.1),
        "p95": pytest.approx(2.9),
        "min": 1.0,
        "max": 3.0,
        "n": 3,
    }
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(1.0, 0.0) is None


# --- LoCoMo loader --------------------------------------------------------------------------


def test_parse_session_date_is_lenient() -> None:
    assert parse_session_date("1:56 pm on 8 May, 2023") == datetime(2023, 5, 8, 13, 56)
    assert parse_session_date("12:05 am on 1 January, 2024") == datetime(2024, 1, 1, 0, 5)
    assert parse_session_date("12:30 pm on 2 Feb, 2024") == datetime(2024, 2, 2, 12, 30)
    assert parse_session_date("9:15 am on 20 Sep, 2023") == datetime(2023, 9, 20, 9, 15)
    assert parse_session_date("May 20th, 2023") == datetime(2023, 5, 20)
    assert parse_session_date("2023-05-20") == datetime(2023, 5, 20)
    assert parse_session_date("sometime in spring") is None
    assert parse_session_date(None) is None


TINY_LOCOMO = [
    {
        "sample_id": "tiny",
        "conversation": {
            "speaker_a": "Ann",
            "speaker_b": "Bo",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Ann", "dia_id": "D1:1", "text": "I adopted a cat."},
                {"speaker": "Bo", "dia_id": "D1:2", "text": "Lovely!", "img_url": ["x"]},
            ],
            "session_2_date_time": "a while later",
            "session_2": [{"speaker": "Bo", "dia_id": "D2:1", "text": "I moved to Oslo."}],
        },
        "qa": [
            {"question": "What pet?", "answer": "a cat", "evidence": ["D 1:1"], "category": 4},
            {"question": "When?", "answer": 2023, "evidence": ["D1:1; D9:9"], "category": 2},
            {"question": "Bo cat?", "adversarial_answer": "x", "evidence": ["D2:1"], "category": 5},
            {"question": "Ann's job?", "answer": "?", "evidence": ["n/a"], "category": 1},
        ],
        "event_summary": {"events_session_1": []},
        "observation": {},
        "session_summary": {"session_1_summary": "Ann and Bo talk."},
    }
]


def test_loader_builds_memories_and_scoped_questions(tmp_path: Path) -> None:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY_LOCOMO), encoding="utf-8")
    [sample] = load_locomo(path)

    assert sample.sample_id == "tiny"
    assert [memory.id for memory in sample.memories] == ["D1:1", "D1:2", "D2:1"]
    assert sample.memories[0].text == "Ann: I adopted a cat."
    assert sample.memories[0].created_at == datetime(2023, 5, 8, 13, 56)
    assert sample.memories[2].created_at is None  # unparseable date kept as None
    assert sample.undated_sessions == 1

    pet, when, adversarial, job = sample.questions
    assert pet.evidence == ("D1:1",) and pet.category == 4
    assert when.answer == "2023"
    assert when.evidence == ("D1:1",) and when.missing == ("D9:9",)
    assert adversarial.is_adversarial and adversarial.answer == "x"
    assert job.evidence == () and job.unparsed == ("n/a",)


def test_loader_category_5_is_separate_from_overall() -> None:
    [sample] = parse_locomo(TINY_LOCOMO)
    outcomes = [
        QuestionOutcome(question.category, question.evidence, ("D1:1",))
        for question in sample.questions
        if question.evidence
    ]
    groups = aggregate(outcomes, ks=(1,))
    assert groups["overall"]["n"] == 2  # single-hop and temporal; the no-evidence one skipped
    assert groups["overall"]["recall@1"] == 1.0
    assert groups["adversarial"] == {"n": 1, "recall@1": 0.0, "all_found@1": 0.0, "mrr": 0.0}


def test_loader_tolerates_odd_shapes() -> None:
    samples = parse_locomo([{"qa": [{"question": "?"}, "junk"]}, "junk", {"conversation": 3}])
    assert [sample.memories for sample in samples] == [[], []]
    assert samples[0].questions[0].category is None
    with pytest.raises(ValueError):
        parse_locomo({"not": "a list"})


# --- BM25, registry, report -----------------------------------------------------------------


def test_bm25_ranks_by_term_weight_with_or_without_stopwords() -> None:
    assert tokenize("The cat's toys, AND 3 balls!") == ["cat", "toys", "3", "balls"]
    assert tokenize("The cat", stopwords=False) == ["the", "cat"]
    documents = ["the cat sat", "dogs bark loudly", "cat cat cat food"]
    plain = BM25Index(documents)  # the baseline: plain Okapi, every token kept
    assert plain.top("cat", 10) == [2, 0]  # tf 3 beats tf 1 despite the longer document
    assert plain.top("bark", 10) == [1]
    assert plain.top("the", 10) == [0]
    # idf ln(1 + 1.5 / 2.5); tf 1; length 3 against an average of 10 / 3
    norm = 1.2 * (0.25 + 0.75 * 3 / (10 / 3))
    assert plain.scores("cat")[0] == pytest.approx(math.log(1.6) * 2.2 / (1 + norm))
    filtered = BM25Index(documents, stopwords=True)
    assert filtered.top("the", 10) == []  # stopwords only: nothing matches


def test_registry_resolves_names() -> None:
    assert "retrieval" in BENCHMARKS
    assert resolve_names([]) == list(BENCHMARKS)
    with pytest.raises(UnknownBenchmarkError, match="known: "):
        resolve_names(["nope"])


def test_markdown_table_formats_cells() -> None:
    table = markdown_table([{"a": 0.5, "b": None}, {"a": 2, "c": "x|y"}])
    assert table.splitlines() == [
        "| a | b | c |",
        "| --- | --- | --- |",
        "| 0.500 | — | — |",
        "| 2 | — | x\\|y |",
    ]


def test_a_partial_run_replaces_its_sections_and_keeps_the_others(tmp_path: Path) -> None:
    def result(name: str, value: float) -> dict[str, object]:
        return {"name": name, "date": "2026-12-04", "table": [{"figure": value}], "notes": []}

    out, report = tmp_path / "results", tmp_path / "BENCHMARKS.md"
    out.mkdir()
    for name, value in (("chain", 1.0), ("memory", 2.0)):
        (out / f"{name}.json").write_text(json.dumps(result(name, value)))
    write_report(out, report)
    for path in out.iterdir():
        path.unlink()
    (out / "memory.json").write_text(json.dumps(result("memory", 3.0)))
    (out / "retrieval.json").write_text(json.dumps(result("retrieval", 4.0)))
    write_report(out, report)

    sections = existing_sections(report.read_text())
    assert list(sections) == ["chain", "memory", "retrieval"]
    assert "| 1.000 |" in sections["chain"]  # kept from the first run
    assert "| 3.000 |" in sections["memory"] and "2.000" not in sections["memory"]
    assert report.read_text().count("## How to reproduce") == 1
