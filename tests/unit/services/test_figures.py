"""``live_figures`` and ``RecentTraces``: what the dashboard shows, from a registry and a
ring the test fills itself (no app)."""

from __future__ import annotations

import pytest

from echoray.services.figures import live_figures
from echoray.services.metrics import GatewayMetrics
from echoray.services.recent_traces import RecentTraces


def test_figures_sum_requests_and_estimate_quantiles_as_prometheus_does() -> None:
    metrics = GatewayMetrics()
    for seconds in (0.004, 0.004, 0.004, 0.3):
        metrics.observe_request("/v1/chat/completions", "POST", 200, seconds)
    metrics.observe_request("/v1/memories", "GET", 404, 0.001)
    metrics.observe_refusal(503, "model_not_ready")
    metrics.observe_generation(
        "fake", ttft_s=0.02, duration_s=0.1, prompt_tokens=7, completion_tokens=5
    )
    metrics.observe_shard(0, {"memories": 3, "working_set_bytes": 2048, "pending_turns": 1})
    metrics.observe_shard(1, None)  # did not answer in time
    metrics.observe_pipeline({"embed": 2.0, "inference": 40.0}, [], 12)

    figures = live_figures(metrics.registry)
    assert figures["requests"] == {
        "total": 5,
        "by_status": {"2xx": 4, "4xx": 1},
        "in_flight": 0,
        "refused": 1,
    }
    chats, lookups = figures["latency"]  # the busiest route first
    assert (chats["route"], chats["count"], lookups["count"]) == ("/v1/chat/completions", 4, 1)
    assert chats["mean_ms"] == pytest.approx(78.0)
    assert 0 < chats["p50_ms"] <= 5 < chats["p95_ms"] <= 500  # within their buckets
    (fake,) = figures["models"]
    assert fake["model"] == "fake" and (fake["tokens_in"], fake["tokens_out"]) == (7, 5)
    assert fake["generations"] == 1 and fake["tpot_mean_ms"] == pytest.approx(20.0)
    assert figures["shards"] == [
        {"shard": 0, "up": 1, "memories": 3, "bytes": 2048, "pending_turns": 1},
        {"shard": 1, "up": 0},
    ]
    assert {s["stage"] for s in figures["stages"]} == {"embed", "inference"}
    assert figures["consolidation"] == {"runs": {}, "items": {}, "running": 0}


def test_recent_traces_are_per_tenant_and_user_newest_first_and_bounded() -> None:
    ring = RecentTraces(capacity=3)
    for n, (tenant, user) in enumerate([("a", "u"), ("b", "u"), ("a", "u"), ("a", "v")]):
        ring.add(
            tenant=tenant,
            user=user,
            request_id=f"r{n}",
            model="fake",
            query="q",
            answer="x" * 1000,
            trace={"n": n},
        )
    assert [e["request_id"] for e in ring.recent("a", "u", 10)] == ["r2"]  # r0 dropped
    assert [e["request_id"] for e in ring.recent("b", "u", 10)] == ["r1"]
    assert ring.recent("a", "u", 1)[0]["trace"] == {"n": 2}
    assert len(ring.recent("a", "u", 1)[0]["answer"]) == 500
    assert ring.recent("c", "u", 10) == []
