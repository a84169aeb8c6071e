"""The evaluate job against the memory API in process (real LanceDB, HashEmbedder): it
scores what the benchmark's in-process echoray retriever scores on the same data, deletes
its users, and reports bad files."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from benchmarks.retrieval.echoray_memory import EchoRayRetriever
from echoray.embeddings.hashed import HashEmbedder
from echoray.evaluation.evaluate import evaluate_retriever
from echoray.evaluation.locomo import load_locomo
from echoray.evaluation.metrics import aggregate
from echoray.jobs import evaluate as job
from echoray.jobs.progress import JobInputError
from tests.integration.jobs.conftest import Server

DATA = Path(__file__).resolve().parents[3] / "benchmarks" / "data" / "synthetic_locomo.json"


def args(*argv: str):
    return job.build_parser({}).parse_args(list(argv))


async def test_cluster_scores_match_the_benchmark_retriever_and_users_are_deleted(
    server: Server, tmp_path: Path
) -> None:
    stream = io.StringIO()
    async with server.client() as client:
        result = await job.evaluate(args(str(DATA), "--max-samples", "2"), client, stream)
        for user in result["retrievers"]["echoray"]["users"]:
            assert (await client.memories.list_page(user))["data"] == []
    samples = load_locomo(DATA)[:2]
    retriever = EchoRayRetriever(HashEmbedder())  # it runs its own event loop: in a thread
    reference = await asyncio.to_thread(evaluate_retriever, retriever, samples, repeats=1, max_k=20)
    expected = aggregate(reference.outcomes)
    groups = result["retrievers"]["echoray"]["groups"]
    assert groups.keys() == expected.keys() and groups["overall"]["n"] == 34
    for group, scores in expected.items():
        for metric, value in scores.items():
            assert groups[group][metric] == pytest.approx(value, abs=0.03), (group, metric)
    assert result["questions"] == 42 and "evaluate: 42/42 questions" in stream.getvalue()


async def test_keep_leaves_the_users_and_out_is_plottable_json(
    server: Server, tmp_path: Path
) -> None:
    out = tmp_path / "eval.json"
    options = args(
        str(DATA),
        "--max-samples",
        "1",
        "--max-questions",
        "5",
        "--keep",
        "--ks",
        "1,3",
        "--out",
        str(out),
    )
    async with server.client() as client:
        result = await job.evaluate(options, client, io.StringIO())
        (user,) = result["retrievers"]["echoray"]["users"]
        assert len((await client.memories.list_page(user, limit=100))["data"]) == 64
        memory = await client.memories.get(user, "D1:1")
        assert memory["session"] == "session-1"
    assert (
        result["ks"] == [1, 3]
        and "recall@3" in result["retrievers"]["echoray"]["groups"]["overall"]
    )


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (None, [], "no such file"),
        ("{not json", [], "not a LoCoMo"),
        ('{"a": 1}', [], "not a LoCoMo"),
        ("[]", [], "no dialogue turns"),
        ("[]", ["--ks", "0,5"], "--ks"),
    ],
)
async def test_bad_files_and_options(
    server: Server, tmp_path: Path, content, extra, message
) -> None:
    path = tmp_path / "data.json"
    if content is not None:
        path.write_text(content)
    async with server.client() as client:
        with pytest.raises(JobInputError, match=message):
            await job.evaluate(args(str(path), *extra), client, io.StringIO())


async def test_baselines_run_here_on_the_same_questions(server: Server) -> None:
    options = args(str(DATA), "--max-samples", "1", "--max-questions", "8", "--baselines")
    async with server.client() as client:
        result = await job.evaluate(options, client, io.StringIO())
    retrievers = result["retrievers"]
    assert list(retrievers) == ["echoray", "dense", "bm25", "rrf"]
    counts = {name: figures["groups"]["overall"]["n"] for name, figures in retrievers.items()}
    assert len(set(counts.values())) == 1 and counts["dense"] > 0
    assert retrievers["dense"]["where"] == "local"


def test_main_exit_codes_and_help(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert job.main([str(tmp_path / "none.json")], environ={}) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        job.main(["--help"], environ={})
    assert "--baselines" in capsys.readouterr().out
