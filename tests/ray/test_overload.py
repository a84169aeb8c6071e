"""Overload, slow and dropped clients, and timeouts, through Serve over HTTP.

The app ``overload`` (under ``/overload``) serves one fake model that takes 0.05 s a word,
behind an inference deployment that takes 4 requests and queues 2 more: capacity 6. Past
it, requests are refused at once with 503 and ``Retry-After``; a stream the client drops
or stops reading gives its engine slot back; a generation past ``generation_timeout_s``
is stopped. The figures of a burst at 4x capacity are printed (``-s``).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator

import httpx
import pytest

from benchmarks.cluster import wait_ready
from echoray.serve.app import build_app

pytestmark = pytest.mark.ray
CAPACITY = 4 + 2  # max_ongoing_requests + max_queued_requests of the model
TOKEN_DELAY_S = 0.05
GENERATION_TIMEOUT_S = 8.0  # well above a queued answer (2 x 1.7 s) on a loaded machine


@pytest.fixture(scope="module")
def app_url(serve_port: int) -> Iterator[str]:
    from ray import serve

    app = build_app(
        {
            "models": [
                {
                    "name": "fake",
                    "engine": {"kind": "fake", "token_delay_s": TOKEN_DELAY_S},
                    "deployment": {
                        "num_cpus": 0.1,
                        "max_ongoing_requests": 4,
                        "max_queued_requests": 2,
                        "retry_after_s": 2,
                    },
                }
            ],
            "embeddings": {"enabled": False},
            "memory": {"enabled": False},
            "server": {"gateway": {"num_cpus": 0.1}},
            "limits": {"generation_timeout_s": GENERATION_TIMEOUT_S},
        },
        environ={},
    )
    serve.run(app, name="overload", route_prefix="/overload", blocking=False)
    url = f"http://127.0.0.1:{serve_port}/overload"
    wait_ready(f"{url}/readyz", timeout=120)
    yield url
    serve.delete("overload")


def chat_body(words: int, stream: bool = False) -> dict:
    prompt = " ".join(f"w{n}" for n in range(words))  # the fake says it back: a word a token
    return {"model": "fake", "messages": [{"role": "user", "content": prompt}], "stream": stream}


def engine_decoding(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    found = re.search(r'echoray_engine_requests\{model="fake",state="decoding"\} (\S+)', text)
    assert found, "no engine gauge in /metrics"
    return float(found.group(1))


def wait_for_idle_engine(url: str, timeout_s: float) -> float:
    """Seconds until the engine holds no request; fails past ``timeout_s``."""
    started = time.monotonic()
    while engine_decoding(url) > 0:
        assert time.monotonic() - started < timeout_s, "the engine kept a slot"
        time.sleep(0.1)
    return time.monotonic() - started


async def test_a_burst_at_four_times_capacity_is_shed_at_once(app_url: str) -> None:
    async with httpx.AsyncClient(base_url=app_url, timeout=60) as http:

        async def chat() -> tuple[httpx.Response, float]:
            started = time.monotonic()
            response = await http.post("/v1/chat/completions", json=chat_body(30))
            return response, time.monotonic() - started

        async def readiness(stop: asyncio.Event) -> list[int]:
            statuses = []
            while not stop.is_set():
                statuses.append((await http.get("/readyz")).status_code)
                await asyncio.sleep(0.2)
            return statuses

        stop = asyncio.Event()
        probe = asyncio.create_task(readiness(stop))
        results = await asyncio.gather(*(chat() for _ in range(4 * CAPACITY)))
        stop.set()
        ready = await probe

    ok = sorted(s for r, s in results if r.status_code == 200)
    shed = sorted(s for r, s in results if r.status_code == 503)
    print(
        json.dumps(
            {
                "requests": len(results),
                "status_mix": {"200": len(ok), "503": len(shed)},
                "ok_p50_s": round(ok[len(ok) // 2], 2),
                "ok_max_s": round(ok[-1], 2),
                "shed_max_s": round(shed[-1], 2),
                "readyz": sorted(set(ready)),
            }
        )
    )
    others = [(r.status_code, r.text[:200]) for r, _ in results if r.status_code not in (200, 503)]
    assert not others, others  # nothing but answers and refusals
    assert 4 <= len(ok) <= 2 * CAPACITY and len(shed) >= 2 * CAPACITY
    assert shed[-1] < ok[0]  # every refusal came before the first answer finished
    for response, _ in results:
        if response.status_code == 503:
            assert response.headers["retry-after"] == "2"
            assert response.headers["content-type"] == "application/json", (
                response.headers,
                response.text,
            )
            assert response.json()["error"]["code"] == "queue_full"
    assert ready and set(ready) == {200}  # overload is not unreadiness


def test_a_dropped_stream_gives_its_slot_back(app_url: str) -> None:
    with httpx.Client(base_url=app_url, timeout=60) as http:
        for _ in range(4):  # fill every slot with a 10 s generation, then hang up
            with http.stream("POST", "/v1/chat/completions", json=chat_body(200, True)) as s:
                next(s.iter_lines())
        freed_s = wait_for_idle_engine(app_url, timeout_s=5)
        reply = http.post("/v1/chat/completions", json=chat_body(3))
    assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"]
    assert freed_s < 5  # not the 10 s the abandoned generations would have taken


def test_a_client_that_stops_reading_does_not_keep_its_slot(app_url: str) -> None:
    with httpx.Client(base_url=app_url, timeout=60) as http:
        stalled = http.stream("POST", "/v1/chat/completions", json=chat_body(400, True))
        response = stalled.__enter__()
        try:
            assert response.status_code == 200  # the stream began; nobody reads it
            other = http.post("/v1/chat/completions", json=chat_body(3))
            assert other.status_code == 200  # the others are served meanwhile
            # The 20 s generation stops at the generation timeout, unread or not.
            freed_s = wait_for_idle_engine(app_url, timeout_s=GENERATION_TIMEOUT_S + 6)
        finally:
            stalled.__exit__(None, None, None)
    assert freed_s < GENERATION_TIMEOUT_S + 6


def test_a_generation_past_its_timeout_is_a_504_that_says_so(app_url: str) -> None:
    started = time.monotonic()
    response = httpx.post(f"{app_url}/v1/chat/completions", json=chat_body(200), timeout=60)
    took = time.monotonic() - started
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "generation_timeout"
    assert GENERATION_TIMEOUT_S <= took < GENERATION_TIMEOUT_S + 5
