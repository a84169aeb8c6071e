"""The three jobs submitted with the real `ray job submit` CLI to a local Ray head with the
dashboard, against the shared echoray app (fake engine, real MiniLM, memory on disk)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.ray
REPO = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))
DATA = REPO / "benchmarks" / "data" / "synthetic_locomo.json"


def submit(dashboard: str, *command: str) -> tuple[str, str]:
    """Submit ``python -m ...`` as a Ray job, wait for it; its status and its logs."""
    job_id = f"test-{uuid.uuid4().hex[:8]}"
    done = subprocess.run(
        [
            RAY,
            "job",
            "submit",
            "--address",
            dashboard,
            "--submission-id",
            job_id,
            "--",
            sys.executable,
            "-m",
            *command,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    status = subprocess.run(
        [RAY, "job", "status", "--address", dashboard, job_id],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return status.stdout + status.stderr, done.stdout + done.stderr


def test_ingest_evaluate_and_consolidate_as_ray_jobs(
    echoray_app: tuple[str, str], tmp_path: Path
) -> None:
    url, dashboard = echoray_app
    source = tmp_path / "facts.jsonl"
    source.write_text(
        "".join(json.dumps({"text": f"fact {i} about boats"}) + "\n" for i in range(300))
    )
    summary = tmp_path / "ingest.json"
    status, logs = submit(
        dashboard,
        "echoray.jobs.ingest",
        str(source),
        "--user",
        "jobs-user",
        "--batch-size",
        "128",
        "--url",
        url,
        "--summary-json",
        str(summary),
        "--checkpoint",
        str(tmp_path / "ck.json"),
    )
    assert "succeeded" in status.lower(), logs
    assert "ingest summary" in logs and "ingest: " in logs
    assert json.loads(summary.read_text())["inserted"] == 300
    listed = httpx.get(f"{url}/v1/memories", params={"user": "jobs-user", "limit": 100}).json()
    assert len(listed["data"]) == 100 and listed["next_cursor"]

    out = tmp_path / "eval.json"
    status, logs = submit(
        dashboard,
        "echoray.jobs.evaluate",
        str(DATA),
        "--max-samples",
        "1",
        "--url",
        url,
        "--out",
        str(out),
    )
    assert "succeeded" in status.lower(), logs
    result = json.loads(out.read_text())
    overall = result["retrievers"]["echoray"]["groups"]["overall"]
    assert overall["n"] > 0 and overall["recall@20"] > 0.5  # MiniLM finds most evidence

    status, logs = submit(dashboard, "echoray.jobs.consolidate", "--url", url)
    assert "succeeded" in status.lower(), logs
    assert "consolidate summary" in logs

    status, logs = submit(
        dashboard, "echoray.jobs.ingest", str(tmp_path / "missing.csv"), "--user", "x", "--url", url
    )
    assert "failed" in status.lower() and "no such file" in logs
