"""``engine_step``: where one decode step's time goes, against the physical limit.

For SmolLM2-135M on this machine, in one run: the decode step (one new token for B
sequences) of plain transformers with its cache (the baseline), of echoray's
``LlamaRunner``, and of the runner's matrix products alone; and the memory read
bandwidth (numpy sum over 512 MB), which bounds a batch-1 fp32 step at
``weight bytes / bandwidth`` because every weight is read once per step.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from pathlib import Path
from typing import Any

from benchmarks.contract import BenchContext, BenchResult
from benchmarks.stats import format_spread, ratio, summarize

BATCHES = (1, 8, 16)
CONTEXT = 128  # cached positions per sequence when the step is timed


def run(ctx: BenchContext) -> BenchResult:
    import numpy as np
    import torch

    from echoray.config import ModelSpec, TorchEngineConfig
    from echoray.engines.torch_engine import TorchEngine

    iterations = 8 if ctx.quick else 20
    spec = ModelSpec(engine=TorchEngineConfig(max_num_seqs=max(BATCHES)))
    engine = TorchEngine(spec, cache_dir=Path("data/cache").resolve())
    asyncio.run(engine.start())  # converts once if needed; sets the thread layout
    runner = engine.batcher.runner if engine.batcher else None
    assert runner is not None
    weight_bytes = _weight_bytes(runner)
    bandwidth = _read_bandwidth(np, repeats=ctx.repeats)
    hf_model = _transformers_model(engine)

    figures: dict[str, Any] = {
        "weight_bytes": weight_bytes,
        "read_bandwidth_gb_s": bandwidth,
        "physical_limit_batch1_tokens_per_s": bandwidth["median"] * 1e9 / weight_bytes,
        "batches": {},
    }
    table = []
    for batch in BATCHES:
        tokens = torch.zeros(batch, 1, dtype=torch.long)
        starts = torch.full((batch,), CONTEXT)
        runner_ms = _time_ms(
            functools.partial(runner.forward, tokens, 0, starts), iterations, ctx.repeats
        )
        matmul_ms = _time_ms(
            functools.partial(_matmuls_only, runner, batch), iterations, ctx.repeats
        )
        hf_ms = _time_ms(_transformers_step(torch, hf_model, batch), iterations, ctx.repeats)
        entry = {
            "transformers_step_ms": hf_ms,
            "runner_step_ms": runner_ms,
            "matmul_only_ms": matmul_ms,
            "runner_tokens_per_s": batch * 1000 / runner_ms["median"],
            "speedup_over_transformers": ratio(hf_ms["median"], runner_ms["median"]),
            "non_matmul_share": 1 - matmul_ms["median"] / runner_ms["median"],
        }
        figures["batches"][str(batch)] = entry
        table.append(
            {
                "batch": batch,
                "transformers step ms (baseline)": format_spread(hf_ms),
                "runner step ms": format_spread(runner_ms),
                "matmuls alone ms": format_spread(matmul_ms),
                "runner tok/s": f"{entry['runner_tokens_per_s']:.1f}",
                "speedup": f"{entry['speedup_over_transformers']:.2f}x",
                "non-matmul share": f"{entry['non_matmul_share']:.0%}",
            }
        )
    limit = figures["physical_limit_batch1_tokens_per_s"]
    notes = [
        f"Weights read per step: {weight_bytes / 1e6:.0f} MB (fp32); measured read bandwidth "
        f"(all cores) {format_spread(bandwidth)} GB/s, so a batch-1 fp32 step cannot beat about "
        f"{limit:.0f} tokens/s here.",
        "Matrix products run on numpy's OpenBLAS with all cores and the small per-layer ops on "
        "one torch thread; torch's MKL products were 1.5-2x slower on this AMD EPYC.",
        f"Each step times one new token per sequence with {CONTEXT} cached positions.",
    ]
    params = {
        "iterations": iterations,
        "repeats": ctx.repeats,
        "context": CONTEXT,
        "threads": {"torch": torch.get_num_threads()},
    }
    return BenchResult(
        name="engine_step",
        params=params,
        figures=figures,
        table=table,
        notes=notes,
        plot=lambda path: _plot(figures, path),
    )


def _weight_bytes(runner: Any) -> int:
    total = runner.embed.numel() * runner.embed.element_size()
    for layer in runner.layers:
        for weight in layer:
            total += weight.nbytes if hasattr(weight, "nbytes") else weight.numel() * 4
    lm_head = runner.lm_head
    total += lm_head.nbytes if hasattr(lm_head, "nbytes") else lm_head.numel() * 4
    # The embedding rows read per step are few; the tied lm_head reads the whole table.
    return int(total - runner.embed.numel() * runner.embed.element_size())


def _read_bandwidth(np: Any, repeats: int) -> dict[str, float]:
    """GB/s reading 512 MB with one thread per core (numpy releases the GIL in sums)."""
    from concurrent.futures import ThreadPoolExecutor

    cores = len(os.sched_getaffinity(0))
    data = np.ones(128 * 1024 * 1024, dtype=np.float32)
    parts = np.array_split(data, cores)
    samples = []
    with ThreadPoolExecutor(cores) as pool:
        for _ in range(max(3, repeats)):
            started = time.perf_counter()
            list(pool.map(np.sum, parts))
            samples.append(data.nbytes / (time.perf_counter() - started) / 1e9)
    return summarize(samples)


def _matmuls_only(runner: Any, batch: int) -> None:
    for layer in runner.layers:
        for weight in (layer[1], layer[2], layer[4], layer[5]):
            runner._linear(_zeros(runner, batch, weight), weight)
    runner._linear(_zeros(runner, batch, runner.lm_head), runner.lm_head)


def _zeros(runner: Any, batch: int, weight: Any) -> Any:
    import torch

    features = weight.shape[0] if runner.use_numpy_blas else weight.shape[1]
    return torch.zeros(batch, features)


def _transformers_model(engine: Any) -> Any:
    from transformers import AutoModelForCausalLM

    from echoray.engines.sources import cached_model_dir, resolve_source
    from echoray.engines.torch_engine import convert_gguf

    folder = cached_model_dir(resolve_source(engine._spec.source), engine._cache_dir, convert_gguf)
    return AutoModelForCausalLM.from_pretrained(folder).eval()


def _transformers_step(torch: Any, model: Any, batch: int) -> Any:
    with torch.inference_mode():
        prompt = torch.zeros(batch, CONTEXT, dtype=torch.long)
        cache = model(prompt, use_cache=True).cache
    token = torch.zeros(batch, 1, dtype=torch.long)

    def step() -> None:
        with torch.inference_mode():
            model(token, cache=cache, use_cache=True, logits_to_keep=1)
            cache.crop(-1)  # drop the new position: the context stays fixed across iterations

    return step


def _time_ms(fn: Any, iterations: int, repeats: int) -> dict[str, float]:
    fn()  # warm-up
    samples = []
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        for _ in range(iterations):
            fn()
        samples.append((time.perf_counter() - started) * 1000 / iterations)
    return summarize(samples)


def _plot(figures: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batches = [int(b) for b in figures["batches"]]
    fig, axis = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    for key, label in (
        ("transformers_step_ms", "transformers (baseline)"),
        ("runner_step_ms", "echoray LlamaRunner"),
        ("matmul_only_ms", "matrix products alone"),
    ):
        axis.plot(
            batches,
            [figures["batches"][str(b)][key]["median"] for b in batches],
            marker="o",
            label=label,
        )
    axis.set(
        xlabel="sequences in the batch",
        ylabel="ms per decode step",
        title="Decode step time, SmolLM2-135M fp32",
    )
    axis.set_xticks(batches)
    axis.grid(alpha=0.3)
    axis.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
