"""Prometheus metrics of the gateway, on a registry the app owns (no global state).

Route labels use route templates (``/v1/memories/{id}``), never raw paths, so label
cardinality stays bounded.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
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

    def render(self) -> bytes:
        return generate_latest(self.registry)
