"""Closed-loop load generation shared by the serving benchmarks.

``run_closed_loop`` keeps ``concurrency`` requests in flight until ``total`` requests are
done and records, per request, the time to first token, the end-to-end latency and the
tokens produced. Requests are bounded in count, go to loopback only, and stop by themselves.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.stats import percentile


@dataclass(frozen=True)
class RequestSample:
    """One finished request."""

    ttft_s: float
    latency_s: float
    tokens: int

    @property
    def stream_tokens_per_s(self) -> float:
        decode = self.latency_s - self.ttft_s
        return (self.tokens - 1) / decode if self.tokens > 1 and decode > 0 else 0.0


@dataclass(frozen=True)
class LevelResult:
    """All requests of one concurrency level, plus the wall time they took together."""

    concurrency: int
    samples: list[RequestSample]
    wall_s: float

    def figures(self) -> dict[str, float]:
        ttft = [s.ttft_s for s in self.samples]
        latency = [s.latency_s for s in self.samples]
        tokens = sum(s.tokens for s in self.samples)
        return {
            "requests": len(self.samples),
            "requests_per_s": len(self.samples) / self.wall_s,
            "aggregate_tokens_per_s": tokens / self.wall_s,
            "per_stream_tokens_per_s": percentile(
                [s.stream_tokens_per_s for s in self.samples], 50
            ),
            "ttft_p50_ms": 1000 * percentile(ttft, 50),
            "ttft_p95_ms": 1000 * percentile(ttft, 95),
            "latency_p50_ms": 1000 * percentile(latency, 50),
            "latency_p95_ms": 1000 * percentile(latency, 95),
        }


async def run_closed_loop(
    one_request: Callable[[int], Awaitable[RequestSample]], concurrency: int, total: int
) -> LevelResult:
    """Run ``total`` calls of ``one_request(i)`` with ``concurrency`` in flight."""
    counter = iter(range(total))
    samples: list[RequestSample] = []

    async def worker() -> None:
        for i in counter:
            samples.append(await one_request(i))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return LevelResult(concurrency, samples, time.perf_counter() - started)


async def stream_chat_over_http(client: Any, url: str, body: dict[str, Any]) -> RequestSample:
    """POST a streaming chat completion with httpx; time first token and end."""
    started = time.perf_counter()
    first: float | None = None
    tokens = 0
    async with client.stream(
        "POST", url, json={**body, "stream": True, "stream_options": {"include_usage": True}}
    ) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            if event.get("usage"):
                tokens = event["usage"]["completion_tokens"]
            elif event["choices"] and event["choices"][0]["delta"].get("content") and first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    return RequestSample((first or end) - started, end - started, tokens)
