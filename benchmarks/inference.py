"""``inference``: the real engine through the HTTP API against the same engine in process.

Figures per concurrency (1, 4, 8, 16): aggregate and per-stream tokens/s, TTFT p50/p95,
each a median over repeats with its spread; the served/in-process ratio shows what the
server costs. Also cold start: converting the GGUF on first load, and a cached start, each
timed as a fresh Python process (imports included), and Serve's time to ``/readyz``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.contract import BenchContext, BenchResult
from benchmarks.load import LevelResult, RequestSample, run_closed_loop, stream_chat_over_http
from benchmarks.stats import format_spread, ratio, summarize

MODEL = "smollm2-135m-instruct"
CONCURRENCY = (1, 4, 8, 16)
PROMPTS = (
    "Write a long story about a lighthouse keeper and a storm.",
    "Explain in detail how bread is made, step by step.",
    "Describe a journey across the mountains in winter.",
    "Tell me everything you know about the history of sailing.",
)
_START_SCRIPT = """
import asyncio, sys, time
t0 = time.perf_counter()
from echoray.config import ModelSpec
from echoray.engines.torch_engine import TorchEngine
from pathlib import Path
engine = TorchEngine(ModelSpec(), cache_dir=Path(sys.argv[1]))
asyncio.run(engine.start())
print(time.perf_counter() - t0)
"""


def run(ctx: BenchContext) -> BenchResult:
    max_tokens = 64 if ctx.quick else 128
    rounds = 1 if ctx.quick else 2  # requests per level = concurrency * rounds
    repeats = max(1, min(ctx.repeats, 2) if ctx.quick else ctx.repeats)
    params = {
        "model": MODEL,
        "max_tokens": max_tokens,
        "concurrency": list(CONCURRENCY),
        "requests_per_level": f"{rounds} x concurrency",
        "repeats": repeats,
        "temperature": 0,
        "engine": "torch (CPU)",
    }

    cold = measure_cold_start()
    in_process = asyncio.run(measure_in_process(max_tokens, rounds, repeats))
    served, readyz_s = measure_served(max_tokens, rounds, repeats)

    figures: dict[str, Any] = {"cold_start": {**cold, "serve_to_readyz_s": readyz_s}, "levels": {}}
    table = []
    for level in CONCURRENCY:
        base, http = in_process[level], served[level]
        entry = {
            "in_process": base,
            "served": http,
            "served_over_in_process_aggregate": ratio(
                http["aggregate_tokens_per_s"]["median"], base["aggregate_tokens_per_s"]["median"]
            ),
        }
        figures["levels"][str(level)] = entry
        for mode, data in (("in-process (baseline)", base), ("HTTP via Serve", http)):
            table.append(
                {
                    "concurrency": level,
                    "mode": mode,
                    "aggregate tok/s": format_spread(data["aggregate_tokens_per_s"]),
                    "per-stream tok/s": format_spread(data["per_stream_tokens_per_s"]),
                    "TTFT p50 ms": round(data["ttft_p50_ms"]["median"]),
                    "TTFT p95 ms": round(data["ttft_p95_ms"]["median"]),
                    "served/baseline": ""
                    if mode.startswith("in")
                    else f"{entry['served_over_in_process_aggregate']:.2f}",
                }
            )
    notes = [
        f"Cold start (fresh process, imports included): first load with GGUF conversion "
        f"{cold['first_load_s']:.1f} s; cached {cold['cached_load_s']:.1f} s; Serve deploy to "
        f"/readyz 200 with a cached model {readyz_s:.1f} s.",
        "Figures are medians over repeats, [min-max] in brackets; the load generator shares "
        "the 2 cores with the server.",
    ]
    return BenchResult(
        name="inference",
        params=params,
        figures=figures,
        table=table,
        notes=notes,
        plot=lambda path: _plot(figures, path),
    )


def measure_cold_start() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="echoray-cold-") as cache:
        first = _timed_start(cache)
        cached = _timed_start(cache)
    return {"first_load_s": first, "cached_load_s": cached}


def _timed_start(cache: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _START_SCRIPT, cache], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def _request_messages(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]


def _summarize_levels(runs: list[dict[int, LevelResult]]) -> dict[int, dict[str, Any]]:
    summary: dict[int, dict[str, Any]] = {}
    for level in CONCURRENCY:
        per_repeat = [r[level].figures() for r in runs]
        summary[level] = {key: summarize([f[key] for f in per_repeat]) for key in per_repeat[0]}
    return summary


async def measure_in_process(
    max_tokens: int, rounds: int, repeats: int
) -> dict[int, dict[str, Any]]:
    from echoray.config import ModelSpec, TorchEngineConfig
    from echoray.engines.base import GenerationRequest, SamplingParams
    from echoray.engines.torch_engine import TorchEngine

    spec = ModelSpec(engine=TorchEngineConfig(max_num_seqs=16, max_queue=64))
    engine = TorchEngine(spec, cache_dir=Path("data/cache").resolve())
    await engine.start()

    async def one(i: int) -> RequestSample:
        request = GenerationRequest(
            f"b{i}",
            SamplingParams(max_tokens=max_tokens, temperature=0),
            messages=tuple(_request_messages(i)),
        )
        started = time.perf_counter()
        first, tokens = None, 0
        async for chunk in engine.generate(request):
            if first is None and chunk.completion_tokens:
                first = time.perf_counter()
            tokens = chunk.completion_tokens
        end = time.perf_counter()
        return RequestSample((first or end) - started, end - started, tokens)

    await run_closed_loop(one, 1, 2)  # warm-up
    runs = []
    for _ in range(repeats):
        runs.append({c: await run_closed_loop(one, c, c * rounds) for c in CONCURRENCY})
    await engine.shutdown()
    return _summarize_levels(runs)


def measure_served(
    max_tokens: int, rounds: int, repeats: int
) -> tuple[dict[int, dict[str, Any]], float]:
    import httpx
    from ray import serve

    from benchmarks.cluster import local_serve, wait_ready
    from echoray.serve.app import build_app

    with local_serve() as port:
        base = f"http://127.0.0.1:{port}"
        app = build_app(
            {
                "models": [
                    {
                        "name": MODEL,
                        "engine": {"kind": "torch", "max_num_seqs": 16, "max_queue": 48},
                        "deployment": {"num_cpus": 1, "max_ongoing_requests": 64},
                    }
                ],
                "cache": {"dir": "data/cache"},
                "embeddings": {"enabled": False},  # not measured here; keep their CPU out
                "memory": {"enabled": False},
            },
            environ={},
        )
        started = time.perf_counter()
        serve.run(app, name="echoray", route_prefix="/", blocking=False)
        wait_ready(f"{base}/readyz")
        readyz_s = time.perf_counter() - started

        async def measure() -> list[dict[int, LevelResult]]:
            async with httpx.AsyncClient(
                timeout=600, limits=httpx.Limits(max_connections=64)
            ) as client:

                async def one(i: int) -> RequestSample:
                    body = {
                        "model": MODEL,
                        "messages": _request_messages(i),
                        "max_tokens": max_tokens,
                        "temperature": 0,
                    }
                    return await stream_chat_over_http(client, f"{base}/v1/chat/completions", body)

                await run_closed_loop(one, 1, 2)  # warm-up
                return [
                    {c: await run_closed_loop(one, c, c * rounds) for c in CONCURRENCY}
                    for _ in range(repeats)
                ]

        runs = asyncio.run(measure())
    return _summarize_levels(runs), readyz_s


def _plot(figures: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = [int(k) for k in figures["levels"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    for mode, marker in (("in_process", "o"), ("served", "s")):
        agg = [figures["levels"][str(c)][mode]["aggregate_tokens_per_s"]["median"] for c in levels]
        ttft = [figures["levels"][str(c)][mode]["ttft_p50_ms"]["median"] for c in levels]
        left.plot(levels, agg, marker=marker, label=mode.replace("_", "-"))
        right.plot(levels, ttft, marker=marker, label=mode.replace("_", "-"))
    left.set(xlabel="concurrent streams", ylabel="aggregate tokens/s", title="Throughput")
    right.set(xlabel="concurrent streams", ylabel="TTFT p50 (ms)", title="Time to first token")
    for axis in (left, right):
        axis.set_xticks(levels)
        axis.grid(alpha=0.3)
        axis.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
