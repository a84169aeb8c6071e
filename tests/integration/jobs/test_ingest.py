"""The ingest job against the memory API in process (real LanceDB, HashEmbedder): every
format, resume after a crash (exact count, nothing duplicated), bad rows and bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pc
import pyarrow.parquet as pq
import pytest

from echoray.jobs import ingest as job
from echoray.jobs.progress import JobFailed, JobInputError
from tests.integration.jobs.conftest import Server, count


def args(*argv: str):
    return job.build_parser({}).parse_args(list(argv))


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def facts(n: int) -> list[dict]:
    return [{"text": f"fact number {i} about the garden", "n": i} for i in range(n)]


async def test_jsonl_resumes_after_a_crash_with_an_exact_count(
    server: Server, tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "facts.jsonl", facts(230))
    checkpoint = tmp_path / "ck.json"
    options = args(
        str(source),
        "--user",
        "ann",
        "--batch-size",
        "50",
        "--checkpoint",
        str(checkpoint),
        "--retries",
        "0",
    )
    async with server.client(crash_after=2) as crashing:
        with pytest.raises(JobFailed, match="simulated crash"):
            await job.ingest(options, crashing, stream=io.StringIO())
    saved = json.loads(checkpoint.read_text())
    assert saved["rows_done"] == 100 and saved["complete"] is False
    async with server.client() as client:
        assert (await count(client, "ann"))[0] == 100
        summary = await job.ingest(options, client, stream=io.StringIO())
        assert summary["skipped_from_checkpoint"] == 100
        assert (summary["read"], summary["inserted"], summary["already_present"]) == (130, 130, 0)
        total, ids = await count(client, "ann")
        assert total == 230 and len(ids) == 230
        assert json.loads(checkpoint.read_text())["totals"]["inserted"] == 230
        again = await job.ingest(options, client, stream=io.StringIO())  # complete: no-op
        assert again["read"] == 0 and (await count(client, "ann"))[0] == 230


async def test_a_batch_stored_but_not_acknowledged_is_sent_again_as_existing(
    server: Server, tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "facts.jsonl", facts(120))
    checkpoint = tmp_path / "ck.json"
    options = args(
        str(source),
        "--user",
        "bo",
        "--batch-size",
        "40",
        "--checkpoint",
        str(checkpoint),
        "--retries",
        "0",
    )
    async with server.client(crash_after=1, after_ack=True) as crashing:
        with pytest.raises(JobFailed):
            await job.ingest(options, crashing, stream=io.StringIO())
    assert json.loads(checkpoint.read_text())["rows_done"] == 40
    async with server.client() as client:
        assert (await count(client, "bo"))[0] == 80  # the second batch got in, unacknowledged
        summary = await job.ingest(options, client, stream=io.StringIO())
        assert (summary["inserted"], summary["already_present"]) == (40, 40)
        assert (await count(client, "bo"))[0] == 120
        # Without a checkpoint a rerun re-sends everything and stores nothing twice.
        rerun = await job.ingest(args(str(source), "--user", "bo"), client, stream=io.StringIO())
        assert (rerun["inserted"], rerun["already_present"]) == (0, 120)


async def test_parquet_with_user_id_date_and_metadata_columns(
    server: Server, tmp_path: Path
) -> None:
    table = pa.table(
        {
            "body": [f"note {i}" for i in range(10)] + ["", "x" * 9000],
            "who": ["cy", "di"] * 6,
            "key": [f"k{i}" for i in range(12)],
            "at": pa.array([1_700_000_000 + i for i in range(12)], pa.int64()),
            "tag": ["a", "b", "c"] * 4,
        }
    )
    path = tmp_path / "notes.parquet"
    pq.write_table(table, path, row_group_size=4)
    options = args(
        str(path),
        "--user-column",
        "who",
        "--text-column",
        "body",
        "--id-column",
        "key",
        "--created-at-column",
        "at",
        "--metadata-columns",
        "tag",
    )
    async with server.client() as client:
        summary = await job.ingest(options, client, stream=io.StringIO())
        assert (summary["read"], summary["inserted"], summary["rejected"]) == (12, 10, 2)
        memory = await client.memories.get("di", "k1")
        assert memory["metadata"] == {"tag": "b"}
        assert memory["created_at"].startswith("2023-11-14T22:13:21")
        assert (await count(client, "cy"))[0] == 5


async def test_csv_and_a_folder_of_text_files(server: Server, tmp_path: Path) -> None:
    csv_path = tmp_path / "rows.csv"
    pc.write_csv(pa.table({"text": ["007", "plain words"], "id": ["a1", "a1"]}), csv_path)
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "one.txt").write_text("The first document.")
    (folder / "sub" / "two.md").write_text("# Second\nmore text")
    (folder / "skip.bin").write_bytes(b"\x00\x01")
    async with server.client() as client:
        rows = await job.ingest(
            args(str(csv_path), "--user", "ed", "--id-column", "id"), client, stream=io.StringIO()
        )
        assert (rows["inserted"], rows["rejected"]) == (1, 1)  # the repeated id is refused
        assert (await client.memories.get("ed", "a1"))["text"] == "007"  # digits stay text
        docs = await job.ingest(
            args(str(folder), "--user", "fa", "--metadata-columns", "path"),
            client,
            stream=io.StringIO(),
        )
        assert docs["inserted"] == 2
        texts = {
            m["metadata"]["path"]: m["text"]
            for m in (await client.memories.list_page("fa", limit=10))["data"]
        }
        assert texts == {"one.txt": "The first document.", "sub/two.md": "# Second\nmore text"}


async def test_bad_rows_are_reported_with_their_row_numbers(server: Server, tmp_path: Path) -> None:
    rows = [{"text": "fine"}, {"text": "   "}, {"text": "x" * 50}, {"text": "ok", "id": "bad id!"}]
    source = write_jsonl(tmp_path / "mixed.jsonl", rows)
    stream = io.StringIO()
    rejects = tmp_path / "rejects.jsonl"
    async with server.client() as client:
        summary = await job.ingest(
            args(str(source), "--user", "gu", "--max-text-chars", "20", "--rejects", str(rejects)),
            client,
            stream=stream,
        )
    assert (summary["inserted"], summary["rejected"]) == (2, 2)
    assert "rejected row 1: no text" in stream.getvalue()
    assert "rejected row 2: text is 50 characters" in stream.getvalue()
    assert [json.loads(line)["row"] for line in rejects.read_text().splitlines()] == [1, 2]


async def test_rows_the_server_refuses_are_isolated_not_the_whole_batch(
    server: Server, tmp_path: Path
) -> None:
    # The client-side limit is lifted, so the server's 8192-character limit catches it.
    rows = [*facts(6), {"text": "y" * 9000}, *facts(3)]
    source = write_jsonl(tmp_path / "long.jsonl", rows)
    async with server.client() as client:
        summary = await job.ingest(
            args(str(source), "--user", "ha", "--max-text-chars", "100000"),
            client,
            stream=io.StringIO(),
        )
        assert (summary["inserted"], summary["rejected"]) == (9, 1)
        assert summary["rejected_by_reason"] == {"refused by the server: memory text": 1}


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        (lambda d: d / "missing.jsonl", [], "no such file"),
        (lambda d: write_jsonl(d / "a.jsonl", [{"body": "x"}]), [], "no column 'text'"),
        (lambda d: write_jsonl(d / "b.jsonl", [{"text": 3}]), [], "not text"),
        (lambda d: _touch(d / "c.xlsx"), [], "--format"),
        (lambda d: _touch(d / "d.parquet", b"not parquet"), [], "Parquet"),
        (lambda d: write_jsonl(d / "e.jsonl", [{"text": "x"}]), ["--batch-size", "0"], "batch"),
    ],
)
async def test_bad_input_fails_before_anything_is_sent(
    server: Server, tmp_path: Path, make, extra, message
) -> None:
    source = make(tmp_path)
    async with server.client(crash_after=0) as client:  # any batch would fail differently
        with pytest.raises(JobInputError, match=message):
            await job.ingest(args(str(source), "--user", "iv", *extra), client, io.StringIO())


async def test_a_checkpoint_of_another_source_is_refused(server: Server, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "a.jsonl", facts(3))
    checkpoint = tmp_path / "ck.json"
    async with server.client() as client:
        await job.ingest(
            args(str(source), "--user", "jo", "--checkpoint", str(checkpoint)),
            client,
            io.StringIO(),
        )
        write_jsonl(source, facts(4))  # the file changed since
        with pytest.raises(JobInputError, match="another source"):
            await job.ingest(
                args(str(source), "--user", "jo", "--checkpoint", str(checkpoint)),
                client,
                io.StringIO(),
            )


def _touch(path: Path, data: bytes = b"") -> Path:
    path.write_bytes(data)
    return path


def test_main_exit_code_2_and_help(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert job.main([str(tmp_path / "nope.csv"), "--user", "k"], environ={}) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        job.main(["--help"], environ={})
    assert done.value.code == 0
    assert "--checkpoint" in capsys.readouterr().out
