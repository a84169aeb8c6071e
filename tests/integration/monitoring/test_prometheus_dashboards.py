"""Every Grafana panel and alert expression, run by a real Prometheus (Debian's package)
that scrapes a real echoray on a real port every second, after traffic of every kind the
dashboards show: memory chats (streamed and not), memory writes, feedback, consolidation,
client errors, refusals (a model still loading) and server errors (a broken model).

A panel "returns data" when Prometheus answers its query with at least one series whose
last value is a number (not NaN: a quantile over no observations is NaN)."""

from __future__ import annotations

import math
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dashboards import Query, alert_queries, dashboard_queries
from tests.helpers import fake_config
from tests.live_server import LiveServer, live_echoray

PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus missing: `make system-deps` installs Debian's package"
)
USER = "ada"
FACTS = [
    "Ada keeps bees on the roof of her flat in Leeds",
    "Ada's sister Grace is a marine biologist in Plymouth",
    "Ada is training for a half marathon in April",
]
# Traffic goes out in rounds with scrapes between them, so every counter is seen rising
# inside the one-minute window the queries use (rate() needs two samples of a change).
# Each round waits for a scrape taken after it: on a busy machine Prometheus can be slower
# than any fixed sleep (its first scrape once came after all the traffic).
ROUNDS = 3
SCRAPE_WAIT_S = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def echoray(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    db = tmp_path_factory.mktemp("db")
    config = fake_config(
        models=[
            {"name": "fake", "engine": {"kind": "fake", "token_delay_s": 0.005}},
            {"name": "loading", "engine": {"kind": "fake", "load_delay_s": 3600}},
            {"name": "broken", "engine": {"kind": "fake", "fail_after_tokens": 0}},
        ],
        storage={"uri": str(db)},
        memory={"num_shards": 2, "group_commit_window_ms": 1},
        cognition={"memory_deadline_ms": 2000, "pipeline_deadline_ms": 10_000},
    )
    with live_echoray(config, still_loading={"loading"}) as live:
        yield live


@pytest.fixture(scope="module")
def prometheus(echoray: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert PROMETHEUS is not None
    folder = tmp_path_factory.mktemp("prometheus")
    target = echoray.url.removeprefix("http://")
    (folder / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: echoray\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    url = f"http://127.0.0.1:{free_port()}"
    log = (folder / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address={url.removeprefix('http://')}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_ready(url, process, folder / "prometheus.log")
        yield url
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"prometheus exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"prometheus not ready in 60 s: {log.read_text()[-2000:]}")


def send_traffic(http: httpx.Client, round_: int) -> None:
    """One round of what the dashboards watch; each call's status is what it should be."""
    batch = {"user": USER, "memories": [{"text": f"{fact} (round {round_})"} for fact in FACTS]}
    assert http.post("/v1/memories/batch", json=batch).status_code == 200
    chat = {
        "model": "fake",
        "user": USER,
        "messages": [{"role": "user", "content": "Where does Ada keep her bees?"}],
    }
    answered = http.post("/v1/chat/completions", json=chat)
    assert answered.status_code == 200, answered.text
    with http.stream("POST", "/v1/chat/completions", json={**chat, "stream": True}) as stream:
        assert stream.status_code == 200
        assert "[DONE]" in stream.read().decode()
    feedback = {"request_id": answered.json()["id"], "user": USER, "score": 1.0}
    assert http.post("/v1/feedback", json=feedback).status_code == 200
    assert http.post("/v1/memories/search", json={"user": USER, "query": "bees"}).status_code == 200
    assert http.get("/v1/memories/mem-missing", params={"user": USER}).status_code == 404
    assert http.post("/v1/chat/completions", json={**chat, "model": "loading"}).status_code == 503
    assert http.post("/v1/chat/completions", json={**chat, "model": "broken"}).status_code >= 500
    run = http.post("/v1/admin/consolidate", json={"wait": True})
    assert run.status_code == 200 and run.json()["state"] == "done", run.text


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10)
    body = answer.json()
    assert answer.status_code == 200 and body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def wait_for_scrape_after(prometheus: str, moment: float) -> None:
    """Until Prometheus holds a sample of the echoray target taken after ``moment``."""
    deadline = time.monotonic() + SCRAPE_WAIT_S
    while time.monotonic() < deadline:
        if any(value > moment for value in numbers(query(prometheus, "timestamp(up)"))):
            return
        time.sleep(0.2)
    pytest.fail(f"no scrape of echoray within {SCRAPE_WAIT_S} s")


def numbers(result: list[dict[str, Any]]) -> list[float]:
    return [v for v in (float(series["value"][1]) for series in result) if not math.isnan(v)]


@pytest.fixture(scope="module")
def scraped(echoray: LiveServer, prometheus: str) -> str:
    """Prometheus, once it has scraped every round of traffic."""
    wait_for_scrape_after(prometheus, time.time())
    with httpx.Client(base_url=echoray.url, timeout=30) as http:
        for round_ in range(ROUNDS):
            send_traffic(http, round_)
            echoray.drain()
            wait_for_scrape_after(prometheus, time.time())
    targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()["data"]
    (target,) = targets["activeTargets"]
    assert target["health"] == "up", target
    return prometheus


@pytest.mark.parametrize("panel", dashboard_queries(), ids=lambda q: q.name)
def test_every_dashboard_panel_returns_data(scraped: str, panel: Query) -> None:
    result = query(scraped, panel.for_prometheus())
    assert numbers(result), f"{panel.name}: no data for {panel.expr!r}: {result}"


@pytest.mark.parametrize("alert", alert_queries(), ids=lambda q: q.panel)
def test_every_alert_expression_runs(scraped: str, alert: Query) -> None:
    """The alerts parse and run on live series (quiet ones answer an empty vector)."""
    query(scraped, alert.for_prometheus())


def test_the_scrape_sees_what_the_traffic_did(scraped: str) -> None:
    """A few panels' values, against what the rounds sent."""
    chats = query(scraped, 'sum(echoray_requests_total{route="/v1/chat/completions"})')
    assert numbers(chats) == [4.0 * ROUNDS]  # two answered, one refused, one failed a round
    refused = query(scraped, 'sum(echoray_refusals_total{status="503"})')
    assert numbers(refused) == [float(ROUNDS)]
    inserted = query(scraped, 'sum(echoray_memories_ingested_total{result="inserted"})')
    assert numbers(inserted) == [float(len(FACTS) * ROUNDS)]
    positive = query(scraped, 'sum(echoray_feedback_total{verdict="positive"})')
    assert numbers(positive) == [float(ROUNDS)]
    done = query(scraped, 'max(echoray_consolidation_runs_total{state="done"})')
    assert numbers(done) == [float(ROUNDS)]
    shards = query(scraped, "sum(echoray_shard_up)")
    assert numbers(shards) == [2.0]
