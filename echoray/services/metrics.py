"""Prometheus metrics of the gateway, on a registry the app owns (no global state).

Route labels use route templates (``/v1/memories/{id}``), never raw paths, so label
cardinality stays bounded; no label carries a tenant or a user. The engine, shard and
consolidation metrics are read from those components on each scrape
(``echoray.services.scrape``); the dashboards in ``deployments/grafana/`` use them all.
"""

from __future__ import annotations

import contextlib
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from echoray.services.consolidation_metrics import ConsolidationCollector

# What a chat can go on without (``with_deadline``'s names in ``echoray.cognition.stages``,
# the memory chat's "cognition" and "capture"): each starts at 0 on /metrics.
DEGRADABLE_PARTS = ("speakers", "embedding", "recall", "cognition", "capture")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_STAGE_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)
_TOKEN_TIME_BUCKETS = (0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2)


class GatewayMetrics:
    """Requests, latencies, time to first token, time per output token, tokens."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "echoray_requests",
            "HTTP requests by route and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "echoray_request_latency_seconds",
            "HTTP request latency, to the last byte",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ttft = Histogram(
            "echoray_time_to_first_token_seconds",
            "Time to the first generated token",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tpot = Histogram(
            "echoray_time_per_output_token_seconds",
            "Decode time per output token after the first",
            ["model"],
            buckets=_TOKEN_TIME_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "echoray_tokens", "Tokens processed", ["model", "direction"], registry=self.registry
        )
        self.stage = Histogram(
            "echoray_cognition_stage_seconds",
            "Time of each cognitive pipeline stage (inference included)",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=self.registry,
        )
        self.degraded = Counter(
            "echoray_cognition_degraded",
            "Chats that went on without part of the pipeline, by what failed",
            ["what"],
            registry=self.registry,
        )
        self.context_tokens = Histogram(
            "echoray_cognition_context_tokens",
            "Tokens of recalled memory put into a chat's context",
            buckets=(0, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
            registry=self.registry,
        )

        self.in_flight = Gauge(
            "echoray_requests_in_flight",
            "HTTP requests this gateway replica is serving now (streams until their last byte)",
            registry=self.registry,
        )
        self.engine_requests = Gauge(
            "echoray_engine_requests",
            "Requests a model's engine holds, at the last scrape: waiting (admitted, queued) "
            "or decoding",
            ["model", "state"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "echoray_refusals",
            "Requests answered 429 or 503 (a full queue, a model not ready, …), by error code",
            ["status", "code"],
            registry=self.registry,
        )
        self.memories_ingested = Counter(
            "echoray_memories_ingested",
            "Memories sent to the memory API: inserted, or already stored (a retried write)",
            ["result"],
            registry=self.registry,
        )
        self.feedback = Counter(
            "echoray_feedback",
            "Feedback on chat answers, by sign of the score",
            ["verdict"],
            registry=self.registry,
        )
        self.shard_up = Gauge(
            "echoray_shard_up",
            "Whether a memory shard answered the last scrape's stats call in time",
            ["shard"],
            registry=self.registry,
        )
        self.shard_memories = Gauge(
            "echoray_shard_memories",
            "Memories a shard holds in its RAM working set (absent when it serves from "
            "LanceDB's indexes)",
            ["shard"],
            registry=self.registry,
        )
        self.shard_bytes = Gauge(
            "echoray_shard_working_set_bytes",
            "RAM of a shard's working set: vectors and filter arrays (texts not counted)",
            ["shard"],
            registry=self.registry,
        )
        self.shard_pending_turns = Gauge(
            "echoray_shard_pending_turns",
            "Turns a shard took since its last consolidation (the short-term threshold's count)",
            ["shard"],
            registry=self.registry,
        )
        # Known labels start at 0, so the first event is an increase rate() sees.
        for part in DEGRADABLE_PARTS:
            self.degraded.labels(part)
        for result in ("inserted", "existing"):
            self.memories_ingested.labels(result)
        for verdict in ("positive", "neutral", "negative"):
            self.feedback.labels(verdict)
        self.consolidation = ConsolidationCollector()
        self.registry.register(self.consolidation)

    def observe_engine(self, model: str, stats: dict[str, int | None]) -> None:
        """Set a model's engine gauges from its ``stats()`` (engines that count)."""
        in_flight, decoding = stats.get("in_flight"), stats.get("decoding")
        if in_flight is None or decoding is None:
            return
        self.engine_requests.labels(model, "decoding").set(decoding)
        self.engine_requests.labels(model, "waiting").set(max(0, in_flight - decoding))

    def observe_shard(self, shard: int, stats: dict[str, Any] | None) -> None:
        """Set a shard's gauges from its ``stats()``; None: it did not answer in time."""
        label = str(shard)
        self.shard_up.labels(label).set(stats is not None)
        if stats is None:
            return  # its last sizes stay: a slow shard did not shrink
        if stats.get("memories") is not None:
            self.shard_memories.labels(label).set(stats["memories"])
        else:  # serving from LanceDB: no RAM count, and no stale one either
            with contextlib.suppress(KeyError):
                self.shard_memories.remove(label)
        self.shard_bytes.labels(label).set(stats.get("working_set_bytes") or 0)
        self.shard_pending_turns.labels(label).set(stats.get("pending_turns") or 0)

    def observe_refusal(self, status: int, code: str | None) -> None:
        if status in (429, 503):
            self.refusals.labels(str(status), code or "unavailable").inc()

    def observe_ingest(self, inserted: int, existing: int) -> None:
        self.memories_ingested.labels("inserted").inc(inserted)
        self.memories_ingested.labels("existing").inc(existing)

    def observe_feedback(self, score: float) -> None:
        verdict = "positive" if score > 0 else "negative" if score < 0 else "neutral"
        self.feedback.labels(verdict).inc()

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def observe_generation(
        self,
        model: str,
        *,
        ttft_s: float,
        duration_s: float,
        prompt_tokens: int,
        completion_tokens: int,
    ) -> None:
        self.ttft.labels(model).observe(ttft_s)
        if completion_tokens > 1:
            self.tpot.labels(model).observe((duration_s - ttft_s) / (completion_tokens - 1))
        self.tokens.labels(model, "in").inc(prompt_tokens)
        self.tokens.labels(model, "out").inc(completion_tokens)

    def observe_pipeline(
        self, timings_ms: dict[str, float], degraded: list[str], context_tokens: int
    ) -> None:
        for stage, ms in timings_ms.items():
            self.stage.labels(stage).observe(ms / 1000)
        for reason in degraded:
            self.degraded.labels(reason.split(":", 1)[0]).inc()
        self.context_tokens.observe(context_tokens)

    def render(self) -> bytes:
        return generate_latest(self.registry)
