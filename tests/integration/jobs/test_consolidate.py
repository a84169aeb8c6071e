"""The consolidate job against the app in process (real LanceDB, HashEmbedder, the
in-process scheduler behind /v1/admin): a run that merges duplicates, its per-shard table,
and the failures it reports."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import httpx
import pytest

from echoray.api.local import make_local_app
from echoray.embeddings.hashed import HashEmbedder
from echoray.jobs import consolidate as job
from echoray.jobs.progress import JobFailed, format_table
from echoray.services.local import make_local_hosts, make_local_shards
from tests.helpers import fake_config
from tests.integration.jobs.conftest import Server, count


def args(*argv: str):
    return job.build_parser({}).parse_args(list(argv))


async def test_a_run_merges_duplicates_and_reports_every_shard(server: Server) -> None:
    async with server.client() as client:
        same = "My cat Miso sleeps on the warm piano every afternoon"
        await client.memories.add_batch(
            "kim", [{"id": "a", "text": same}, {"id": "b", "text": same}, {"text": "Taxes"}]
        )
        stream = io.StringIO()
        run = await job.consolidate(args("--progress-every", "0.05"), client, stream)
        assert run["state"] == "done" and run["counts"]["merged"] == 1
        assert sorted(r["shard"] for r in run["shards"]) == [0, 1]
        assert (await count(client, "kim"))[0] == 2
        table = format_table(job.shard_rows(run))
        assert "merged" in table.splitlines()[0] and "1 (" in table
        assert "consolidate: tenant all" in stream.getvalue()
        status = await client.admin.consolidation()
        assert status["history"][0]["run_id"] == run["run_id"]


async def test_no_wait_returns_the_started_run(server: Server) -> None:
    async with server.client() as client:
        run = await job.consolidate(args("--no-wait", "--tenant", "default"), client)
        assert run["run_id"].startswith("cons-") and run["tenant"] == "default"


async def test_a_run_longer_than_the_wait_fails_the_job(tmp_path: Path) -> None:
    config = fake_config(
        storage={"uri": str(tmp_path / "db")},
        memory={"group_commit_window_ms": 1},
        cognition={"enabled": False},
        consolidation={"pause_between_users_s": 0.5},  # a slow run: 0.5 s per user
    )
    hosts = make_local_hosts(config)
    app = make_local_app(config, hosts, HashEmbedder(), make_local_shards(config, 384))
    slow = Server(httpx.ASGITransport(app=app))
    async with slow.client() as client:
        for user in ("ann", "ben", "cy", "dee"):
            await client.memories.add(user, f"{user} plays the cello")
        stream = io.StringIO()
        with pytest.raises(JobFailed, match="still running after"):
            await job.consolidate(
                args("--wait-timeout", "0.3", "--progress-every", "0.1"), client, stream
            )
        assert "running · shards" in stream.getvalue()  # progress while it waited
        while (await client.admin.consolidation())["running"]:  # let it end before teardown
            await asyncio.sleep(0.1)


def test_main_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Nothing listens on port 9 here: the job says so and exits 1.
    assert job.main(["--url", "http://127.0.0.1:9", "--timeout", "2"], environ={}) == 1
    assert "failed" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        job.main(["--help"], environ={})
    assert done.value.code == 0 and "--tenant" in capsys.readouterr().out
