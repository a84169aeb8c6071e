"""``chain``: what the gateway → inference chain costs, with zero-compute inference.

The chain serves ``/v1/chat/completions`` with the ``FakeEngine`` (fixed reply, no delay);
the baseline is a bare Serve deployment that answers every POST with the same bytes.
Both run in one Serve instance in the same run; figures are requests/s and latency
p50/p95 at concurrency 1 and 16, medians over repeats, and chain/bare ratios.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from benchmarks.contract import BenchContext, BenchResult
from benchmarks.load import LevelResult, RequestSample, run_closed_loop
from benchmarks.stats import format_spread, ratio, summarize

CONCURRENCY = (1, 16)
REPLY = " ".join(["ok"] * 16)
BODY = {"model": "fake", "messages": [{"role": "user", "content": "ping"}], "max_tokens": 16}


def run(ctx: BenchContext) -> BenchResult:
    requests = 150 if ctx.quick else 600
    repeats = max(1, ctx.repeats)
    runs = measure(requests, repeats)
    figures: dict[str, Any] = {"levels": {}}
    table = []
    for level in CONCURRENCY:
        per_mode = {
            mode: {
                key: summarize([r[mode][level].figures()[key] for r in runs])
                for key in ("requests_per_s", "latency_p50_ms", "latency_p95_ms")
            }
            for mode in ("bare", "chain")
        }
        chain, bare = per_mode["chain"], per_mode["bare"]
        entry = {
            **per_mode,
            "chain_over_bare_requests_per_s": ratio(
                chain["requests_per_s"]["median"], bare["requests_per_s"]["median"]
            ),
            "chain_over_bare_latency_p50": ratio(
                chain["latency_p50_ms"]["median"], bare["latency_p50_ms"]["median"]
            ),
        }
        figures["levels"][str(level)] = entry
        for mode, data in (("bare Serve deployment (baseline)", bare), ("echoray chain", chain)):
            table.append(
                {
                    "concurrency": level,
                    "mode": mode,
                    "requests/s": format_spread(data["requests_per_s"]),
                    "p50 ms": format_spread(data["latency_p50_ms"]),
                    "p95 ms": format_spread(data["latency_p95_ms"]),
                    "chain/bare rps": ""
                    if mode.startswith("bare")
                    else f"{entry['chain_over_bare_requests_per_s']:.2f}",
                }
            )
    notes = [
        "The chain is proxy → Gateway (FastAPI: auth, validation, metrics) → Inference "
        "(FakeEngine, streamed through a Serve handle); the bare baseline is proxy → one "
        "deployment returning the same bytes. The load generator shares the 2 cores.",
    ]
    params = {
        "requests_per_level": requests,
        "repeats": repeats,
        "concurrency": list(CONCURRENCY),
        "reply_tokens": len(REPLY.split()),
    }
    return BenchResult(
        name="chain",
        params=params,
        figures=figures,
        table=table,
        notes=notes,
        plot=lambda path: _plot(figures, path),
    )


def measure(requests: int, repeats: int) -> list[dict[str, dict[int, LevelResult]]]:
    import httpx
    from ray import serve
    from starlette.requests import Request
    from starlette.responses import Response

    from benchmarks.cluster import local_serve, wait_ready
    from echoray.serve.app import build_app

    class Bare:
        def __init__(self, body: bytes) -> None:
            self._body = body

        async def __call__(self, request: Request) -> Response:
            await request.body()
            return Response(self._body, media_type="application/json")

    bare = serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=256)(Bare)

    with local_serve() as port:
        base = f"http://127.0.0.1:{port}"
        chain = build_app(
            {
                "models": [
                    {
                        "name": "fake",
                        "engine": {"kind": "fake", "reply": REPLY},
                        "deployment": {"num_cpus": 0.25, "max_ongoing_requests": 256},
                    }
                ],
                "embeddings": {"enabled": False},  # the chain under test has no embedder
                "memory": {"enabled": False},
            },
            environ={},
        )
        serve.run(chain, name="chain", route_prefix="/chain", blocking=False)
        wait_ready(f"{base}/chain/readyz")
        sample = httpx.post(f"{base}/chain/v1/chat/completions", json=BODY, timeout=30).content
        serve.run(bare.bind(sample), name="bare", route_prefix="/bare", blocking=False)
        wait_ready(f"{base}/bare/anything")  # any path answers 200 once deployed
        urls = {
            "chain": f"{base}/chain/v1/chat/completions",
            "bare": f"{base}/bare/v1/chat/completions",
        }

        async def measure_all() -> list[dict[str, dict[int, LevelResult]]]:
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
            async with httpx.AsyncClient(timeout=60, limits=limits) as client:

                def one_for(url: str):
                    async def one(_i: int) -> RequestSample:
                        started = time.perf_counter()
                        response = await client.post(url, json=BODY)
                        response.raise_for_status()
                        elapsed = time.perf_counter() - started
                        return RequestSample(elapsed, elapsed, 0)

                    return one

                for url in urls.values():  # warm-up
                    await run_closed_loop(one_for(url), 4, 40)
                results = []
                for _ in range(repeats):
                    # Interleave modes within each repeat so drift on the shared machine hits both.
                    results.append(
                        {
                            mode: {
                                c: await run_closed_loop(one_for(url), c, requests)
                                for c in CONCURRENCY
                            }
                            for mode, url in urls.items()
                        }
                    )
                return results

        return asyncio.run(measure_all())


def _plot(figures: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    levels = [str(c) for c in CONCURRENCY]
    width = 0.35
    for offset, mode in ((-width / 2, "bare"), (width / 2, "chain")):
        xs = [i + offset for i in range(len(levels))]
        left.bar(
            xs,
            [figures["levels"][c][mode]["requests_per_s"]["median"] for c in levels],
            width,
            label=mode,
        )
        right.bar(
            xs,
            [figures["levels"][c][mode]["latency_p50_ms"]["median"] for c in levels],
            width,
            label=mode,
        )
    left.set(title="Requests/s", xlabel="concurrency", ylabel="requests/s")
    right.set(title="Latency p50", xlabel="concurrency", ylabel="ms")
    for axis in (left, right):
        axis.set_xticks(range(len(levels)), levels)
        axis.legend()
        axis.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
