"""``python -m echoray.jobs.evaluate``: the retrieval benchmark's metrics, measured against a
running cluster (jobs layer).

For each sample of a LoCoMo-format file, its turns are stored as memories of a fresh user
(``<prefix>-<run>-<sample>``) through ``POST /v1/memories/batch``: ids are the dialogue ids
(``D1:3``, also kept as ``metadata.dia_id``), ``session`` is ``session-<n>``, ``created_at``
the session's date, each session sent in order (as the benchmark's echoray retriever writes
them).
Each question is then asked through ``POST /v1/memories/search`` and scored with
``echoray.evaluation.metrics``, the benchmark's own code: recall@k, all-found@k and MRR per
category, "overall" being categories 1-4. The evaluation users are deleted at the end
unless ``--keep``. ``--baselines`` also runs the benchmark's dense (MiniLM), BM25 and RRF baselines
here, on the same samples, so the JSON and the table compare them.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from echoray.client import AsyncEchoRay
from echoray.evaluation.evaluate import evaluate_retriever
from echoray.evaluation.locomo import Sample, load_locomo, session_times
from echoray.evaluation.metrics import DEFAULT_KS, QuestionOutcome, aggregate, group_names
from echoray.jobs.progress import (
    EXIT_OK,
    JobInputError,
    Progress,
    add_connection_options,
    add_progress_option,
    format_table,
    print_summary,
    run_main,
    with_retries,
    write_json_atomic,
)

NAME = "echoray.jobs.evaluate"
RETRIEVER = "echoray"
BATCH = 256


def load_samples(path: Path, max_samples: int | None, max_questions: int | None) -> list[Sample]:
    """The file's samples, the first ``max_samples`` with at most ``max_questions`` each,
    spread over the list (real files group questions by category).

    Raises:
        JobInputError: the file is missing, not JSON, not a LoCoMo list, or holds no turns.
    """
    try:
        samples = load_locomo(path)
    except FileNotFoundError as error:
        raise JobInputError(f"{path}: no such file") from error
    except (OSError, ValueError) as error:
        raise JobInputError(f"{path}: not a LoCoMo-format JSON file ({error})") from error
    samples = samples[:max_samples] if max_samples else samples
    if max_questions:
        trimmed = []
        for sample in samples:
            questions = sample.questions
            if len(questions) > max_questions:
                step = len(questions) / max_questions
                questions = [questions[int(i * step)] for i in range(max_questions)]
            trimmed.append(replace(sample, questions=list(questions)))
        samples = trimmed
    if not any(sample.memories for sample in samples):
        raise JobInputError(f"{path}: no dialogue turns found (is it a LoCoMo file?)")
    return samples


def memory_bodies(sample: Sample) -> list[list[dict[str, Any]]]:
    """The sample's memories as request bodies, one list per session in dialogue order."""
    sessions: dict[int, list[dict[str, Any]]] = {}
    for memory, created_at in zip(sample.memories, session_times(sample.memories), strict=True):
        sessions.setdefault(memory.session, []).append(
            {
                "id": memory.id,
                "text": memory.text,
                "session": f"session-{memory.session}",
                "created_at": created_at.isoformat(),
                "metadata": {"dia_id": memory.id},
            }
        )
    return list(sessions.values())


def _latency(seconds: Sequence[float]) -> dict[str, float]:
    if not seconds:
        return {}
    ordered = sorted(s * 1000 for s in seconds)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return {"p50": statistics.median(ordered), "p95": p95, "max": ordered[-1]}


async def evaluate_cluster(
    client: AsyncEchoRay,
    samples: Sequence[Sample],
    *,
    ks: Sequence[int],
    prefix: str,
    keep: bool,
    retries: int,
    progress: Progress,
) -> dict[str, Any]:
    """Ingest, query and score every sample on the cluster; delete its users unless
    ``keep``. Returns the retriever's figures (groups, latency, ingest times, users)."""
    run = uuid.uuid4().hex[:8]
    users: list[str] = []
    outcomes: list[QuestionOutcome] = []
    latencies: list[float] = []
    ingest_seconds: list[float] = []
    asked = 0
    try:
        for index, sample in enumerate(samples):
            user = f"{prefix}-{run}-{index}"
            users.append(user)
            started = time.perf_counter()
            for session in memory_bodies(sample):
                for start in range(0, len(session), BATCH):
                    part = session[start : start + BATCH]
                    await with_retries(
                        functools.partial(client.memories.add_batch, user, part),
                        retries=retries,
                        what=f"ingest of sample {sample.sample_id}",
                    )
            ingest_seconds.append(time.perf_counter() - started)
            for question in sample.questions:
                started = time.perf_counter()
                hits = await with_retries(
                    functools.partial(client.memories.search, user, question.text, limit=max(ks)),
                    retries=retries,
                    what=f"search in sample {sample.sample_id}",
                )
                latencies.append(time.perf_counter() - started)
                asked += 1
                if question.evidence and group_names(question.category):
                    ranked = tuple(hit["id"] for hit in hits)
                    outcomes.append(QuestionOutcome(question.category, question.evidence, ranked))
                progress.update(asked, extra=f"sample {index + 1}/{len(samples)}")
    finally:
        if not keep:
            for user in users:
                await with_retries(
                    functools.partial(client.memories.forget_user, user),
                    retries=retries,
                    what=f"deleting {user}",
                )
    return {
        "groups": aggregate(outcomes, ks),
        "latency_ms": _latency(latencies),
        "ingest_seconds_per_sample": [round(s, 3) for s in ingest_seconds],
        "users": users,
        "users_kept": keep,
    }


def baselines(samples: Sequence[Sample], ks: Sequence[int]) -> dict[str, Any]:
    """The benchmark's dense, BM25 and RRF baselines, run here on the same samples."""
    from echoray.evaluation.bm25 import BM25Retriever
    from echoray.evaluation.dense import DenseRetriever, load_minilm
    from echoray.evaluation.rrf import RRFRetriever

    dense = DenseRetriever(load_minilm())
    figures = {}
    for retriever in (dense, BM25Retriever(), RRFRetriever(dense, BM25Retriever())):
        measured = evaluate_retriever(retriever, samples, repeats=1, max_k=max(ks))
        latencies = [timing.seconds for timing in measured.timings_by_repeat[0]]
        figures[retriever.name] = {
            "groups": aggregate(measured.outcomes, ks),
            "latency_ms": _latency(latencies),
            "where": "local",
        }
    return figures


def table(retrievers: Mapping[str, Mapping[str, Any]], ks: Sequence[int]) -> str:
    rows = []
    for name, figures in retrievers.items():
        for group, scores in figures["groups"].items():
            row: dict[str, Any] = {"retriever": name, "group": group, "n": scores["n"]}
            row |= {f"recall@{k}": scores[f"recall@{k}"] for k in ks}
            row["mrr"] = scores["mrr"]
            rows.append(row)
    return format_table(rows)


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m echoray.jobs.evaluate",
        description=(
            "Measure the cluster's memory retrieval on a LoCoMo-format file with the "
            "retrieval benchmark's metrics (recall@k, all-found@k, MRR per category). Each "
            "sample becomes a fresh user, deleted afterwards unless --keep."
        ),
        epilog="Exit codes: 0 done, 1 the cluster refused or stayed down, 2 bad input.",
    )
    parser.add_argument(
        "data",
        type=Path,
        help="a LoCoMo-format JSON file, e.g. "
        "benchmarks/data/synthetic_locomo.json in the repository",
    )
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    parser.add_argument(
        "--ks",
        default=",".join(map(str, DEFAULT_KS)),
        help="cut-offs k for recall@k (default %(default)s)",
    )
    parser.add_argument(
        "--baselines",
        action="store_true",
        help="also run the dense (all-MiniLM-L6-v2), BM25 and RRF baselines here, on the "
        "same samples",
    )
    parser.add_argument("--keep", action="store_true", help="keep the evaluation users")
    parser.add_argument(
        "--user-prefix",
        default="eval",
        help="prefix of the evaluation users' names (default %(default)s)",
    )
    parser.add_argument("--max-samples", type=int, help="only the first N samples")
    parser.add_argument("--max-questions", type=int, help="at most N questions per sample")
    add_progress_option(parser, 2.0)
    add_connection_options(parser, environ)
    return parser


def parse_ks(text: str) -> list[int]:
    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError as error:
        raise JobInputError(f"--ks must be comma-separated integers, got {text!r}") from error
    if not ks or ks[0] < 1 or ks[-1] > 100:
        raise JobInputError("--ks must hold cut-offs from 1 to 100 (the search limit)")
    return ks


async def evaluate(
    args: argparse.Namespace, client: AsyncEchoRay, stream: TextIO | None = None
) -> dict[str, Any]:
    """Run the job with parsed ``args`` through ``client``; return the JSON document.

    Raises:
        JobInputError: bad file or options, found before anything is sent.
        JobFailed: the cluster refused or stayed down.
    """
    ks = parse_ks(args.ks)
    samples = load_samples(args.data, args.max_samples, args.max_questions)
    total = sum(len(sample.questions) for sample in samples)
    progress = Progress(
        "evaluate", unit="questions", total=total, every_s=args.progress_every, stream=stream
    )
    started = time.monotonic()
    retrievers = {
        RETRIEVER: await evaluate_cluster(
            client,
            samples,
            ks=ks,
            prefix=args.user_prefix,
            keep=args.keep,
            retries=args.retries,
            progress=progress,
        )
        | {"where": args.url}
    }
    progress.update(total, force=True, extra="done")
    if args.baselines:
        print("evaluate: running the baselines here", file=stream or sys.stderr)
        retrievers |= baselines(samples, ks)
    return {
        "data": str(args.data),
        "ks": ks,
        "samples": len(samples),
        "memories": sum(len(sample.memories) for sample in samples),
        "questions": total,
        "scored": retrievers[RETRIEVER]["groups"].get("overall", {}).get("n", 0),
        "seconds": round(time.monotonic() - started, 3),
        "retrievers": retrievers,
    }


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    import os

    args = build_parser(os.environ if environ is None else environ).parse_args(argv)

    async def job() -> int:
        async with AsyncEchoRay(args.url, args.api_key, timeout=args.timeout) as client:
            result = await evaluate(args, client)
        print(table(result["retrievers"], result["ks"]))
        overall = result["retrievers"][RETRIEVER]["groups"].get("overall", {})
        print_summary(
            "evaluate summary",
            {
                "samples": result["samples"],
                "memories": result["memories"],
                "questions": result["questions"],
                "scored (categories 1-4)": result["scored"],
                "recall@10": overall.get("recall@10", "n/a"),
                "mrr": overall.get("mrr", "n/a"),
                "seconds": result["seconds"],
                "out": str(args.out) if args.out else "(not written)",
            },
        )
        if args.out:
            write_json_atomic(args.out, result)
        if args.summary_json:
            write_json_atomic(args.summary_json, result)
        return EXIT_OK

    return run_main(job, NAME)


if __name__ == "__main__":
    sys.exit(main())
