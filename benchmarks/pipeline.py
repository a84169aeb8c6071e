"""``pipeline``: latency the memory pipeline adds to a chat completion over plain inference.

Everything runs in this process (no Ray): the gateway app of :mod:`echoray.services.local` with one
``FakeEngine`` model, the real MiniLM embedder and one memory shard on LanceDB under
``<out>/pipeline``. Before anything is timed, the user ``bench-user`` gets 10,000 memories:
synthetic chat-like texts, embedded with MiniLM, written straight through
``MemoryShardCore.add`` in batches of ``memory.max_batch`` (durable commit, working set,
neighbour and temporal links), one session per 32 memories, one minute apart.

"Inference" is a fixed-length generation: the fake engine answers every request with the
same 32 words (32 tokens), sleeping 2 ms before each, so the baseline costs the same for
every request and the difference between modes is what memory adds.

Each request is a non-streaming ``client.chat.completions.create`` of the official openai
client over ``httpx.ASGITransport`` (HTTP parsing and JSON included, no sockets), timed from
the client's side, in three modes over the same system prompt and question:

- ``plain`` (baseline): no ``user`` field, so no pipeline runs;
- ``memory``: ``user="bench-user"``, ``echo: {trace: true, session: "bench", write: false}``,
  the headline: the whole pipeline before inference (MiniLM query embedding, the shard's
  recall, pattern match, short-term turns, candidates, emotional colouring, resonance, goal
  alignment, coherence, context building), the longer prompt, and the trace in the
  response, whose ``stages_ms`` give the per-stage times;
- ``memory_no_trace``: the same without ``trace``, the response a client normally gets.

The modes are interleaved request by request (their order rotating per question), so
machine noise hits each alike. ``write: false`` keeps the 10k memories and the session
fixed during timing; experience capture runs after the response, off the response path,
so it is timed on its own afterwards: ``CognitiveProcessor.capture`` called directly on
prepared chats of the same user (a separate session), one at a time, with the longest
time during each that the event loop could run nothing else (the shard's LanceDB writes run
on the caller's loop).

Each repeat times every question once per mode after a few untimed warm-up requests; a
latency figure is the median over repeats of each repeat's p50 (or p95), with min and max
over repeats; "added" is memory p50 minus plain p50 within each repeat (p95 likewise).

Target (from the issue): at most 30 ms p50 added over plain inference on 2 CPU cores.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.contract import BenchContext, BenchResult
from benchmarks.memory import summarize_repeats, synthetic_queries, synthetic_texts
from benchmarks.stats import format_spread, percentile, summarize

if TYPE_CHECKING:
    import numpy as np
    import openai

    from echoray.config import EchoRayConfig
    from echoray.embeddings.minilm import MiniLMEmbedder
    from echoray.memory.core import MemoryShardCore

NAME = "pipeline"
DIMENSION = 384
MEMORIES = 10_000
USER = "bench-user"
SESSION = "bench"
CAPTURE_SESSION = "bench-capture"
STALL_TICK_S = 0.001  # the event-loop watcher's sleep while a capture runs
MODEL = "fake"
SESSION_LENGTH = 32  # prefilled memories per session, one minute apart
REPLY_TOKENS = 32
TOKEN_DELAY_S = 0.002
QUICK_QUERIES = 40
FULL_QUERIES = 200
WARMUP_QUERIES = 5
QUICK_CAPTURES = 10
FULL_CAPTURES = 40
TARGET_ADDED_P50_MS = 30.0
SYSTEM_PROMPT = "You are a helpful assistant who remembers what the user told you."

MODES = ("plain", "memory", "memory_no_trace")
MODE_LABELS = {
    "plain": "plain inference, no user (baseline)",
    "memory": "memory pipeline + trace (user, echo.trace)",
    "memory_no_trace": "memory pipeline, no trace",
}
INFERENCE_STAGE = "inference"
PIPELINE_TOTAL = "pipeline_total"  # the stages before inference, summed per request

# --- pure helpers ----------------------------------------------------------------------------


def reply_text(tokens: int) -> str:
    """The fake engine's fixed reply: ``tokens`` whitespace-separated words (one token each)."""
    return " ".join(f"word{i % 10}" for i in range(tokens))


def added_latency(
    plain: Sequence[Sequence[float]], memory: Sequence[Sequence[float]]
) -> dict[str, dict[str, float | int]]:
    """Memory minus plain p50 (and p95) within each repeat, summarised over repeats (ms).

    Raises:
        ValueError: if the two modes were not timed over the same number of repeats.
    """
    if len(plain) != len(memory):
        raise ValueError(f"{len(plain)} plain repeats against {len(memory)} memory repeats")
    return {
        f"p{q}_ms": summarize(
            [percentile(m, q) - percentile(p, q) for p, m in zip(plain, memory, strict=True)]
        )
        for q in (50, 95)
    }


def pipeline_total(stages_ms: dict[str, float]) -> float:
    """Milliseconds of the stages before inference in one trace's ``stages_ms``."""
    return sum(ms for stage, ms in stages_ms.items() if stage != INFERENCE_STAGE)


def stage_figures(
    per_repeat: Sequence[Sequence[dict[str, float]]],
) -> dict[str, dict[str, dict[str, float | int]]]:
    """p50/p95 of each stage per repeat, summarised over repeats, stages in pipeline order,
    then ``pipeline_total`` (the stages before inference summed per request). A stage
    missing from a trace (it did not run) counts as 0 ms."""
    names: list[str] = []
    for traces in per_repeat:
        for stages in traces:
            names.extend(name for name in stages if name not in names)
    figures: dict[str, dict[str, dict[str, float | int]]] = {}
    for name in names:
        figures[name] = summarize_repeats(
            [[stages.get(name, 0.0) for stages in traces] for traces in per_repeat]
        )
    figures[PIPELINE_TOTAL] = summarize_repeats(
        [[pipeline_total(stages) for stages in traces] for traces in per_repeat]
    )
    return figures


def target_verdict(added: dict[str, dict[str, float | int]]) -> dict[str, Any]:
    """Whether the median added p50 meets the issue's target."""
    value = float(added["p50_ms"]["median"])
    return {"value": value, "target": TARGET_ADDED_P50_MS, "met": value <= TARGET_ADDED_P50_MS}


def _verdict(target: dict[str, Any]) -> str:
    return "met" if target["met"] else "NOT met"


def _empty_row() -> dict[str, Any]:
    return {"measure": None, "what": None, "p50 ms [min-max]": None, "p95 ms [min-max]": None}


def table_rows(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Latency per mode, the added latency, each pipeline stage, and capture."""
    rows: list[dict[str, Any]] = []
    generation = f"request, {REPLY_TOKENS}-token generation"
    for mode in MODES:
        measured = figures["latency_ms"][mode]
        rows.append(
            _empty_row()
            | {
                "measure": generation,
                "what": MODE_LABELS[mode],
                "p50 ms [min-max]": format_spread(measured["p50_ms"], 2),
                "p95 ms [min-max]": format_spread(measured["p95_ms"], 2),
            }
        )
    for mode in MODES[1:]:
        added = figures["added_ms"][mode]
        rows.append(
            _empty_row()
            | {
                "measure": "added over plain",
                "what": MODE_LABELS[mode],
                "p50 ms [min-max]": format_spread(added["p50_ms"], 2),
                "p95 ms [min-max]": format_spread(added["p95_ms"], 2),
            }
        )
    for stage, measured in figures["stages_ms"].items():
        label = "all stages before inference" if stage == PIPELINE_TOTAL else stage
        rows.append(
            _empty_row()
            | {
                "measure": "stage (server, memory mode)",
                "what": label,
                "p50 ms [min-max]": format_spread(measured["p50_ms"], 2),
                "p95 ms [min-max]": format_spread(measured["p95_ms"], 2),
            }
        )
    capture = figures.get("capture_ms")
    if capture:
        rows.append(
            _empty_row()
            | {
                "measure": "capture (after the response)",
                "what": f"CognitiveProcessor.capture, {capture['n']} calls",
                "p50 ms [min-max]": format_spread(capture["per_call"], 2),
                "p95 ms [min-max]": f"{capture['p95_ms']:.2f}",
            }
        )
        rows.append(
            _empty_row()
            | {
                "measure": "capture (after the response)",
                "what": "longest event-loop stall during one capture",
                "p50 ms [min-max]": format_spread(capture["longest_loop_stall"], 2),
                "p95 ms [min-max]": f"{capture['longest_loop_stall_p95_ms']:.2f}",
            }
        )
    return rows


def notes(figures: dict[str, Any], params: dict[str, Any], quick: bool) -> list[str]:
    """Sentences under the table: the verdict, what each figure includes, caveats."""
    target = figures["target"]
    context = figures["context"]
    added = figures["added_ms"]["memory"]
    stages = figures["stages_ms"]
    ordered = sorted(
        ((name, float(s["p50_ms"]["median"])) for name, s in stages.items()
         if name not in (PIPELINE_TOTAL, INFERENCE_STAGE)),
        key=lambda item: -item[1],
    )  # fmt: skip
    total = float(stages[PIPELINE_TOTAL]["p50_ms"]["median"]) if PIPELINE_TOTAL in stages else 0.0
    lines = [
        f"Target added p50 <= {TARGET_ADDED_P50_MS:.0f} ms: {target['value']:.2f} ms "
        f"({_verdict(target)}); added p95 {float(added['p95_ms']['median']):.2f} ms; with "
        f"{params['memories']} memories of the user, a {REPLY_TOKENS}-token generation and "
        "the MiniLM query embedding included.",
        "Stages before inference, median of per-repeat p50s (ms): "
        + ", ".join(f"{name} {ms:.2f}" for name, ms in ordered)
        + f"; their per-request sum p50 {total:.2f} ms; the rest of the added latency "
        f"({figures['outside_stages_p50_ms']:.2f} ms at p50) is outside the stages: the "
        "trace and the longer prompt and response, MemoryChat, its task scheduling.",
        f"Inference = FakeEngine with a fixed {REPLY_TOKENS}-word reply and "
        f"{TOKEN_DELAY_S * 1000:.0f} ms sleep before each word, identical in every mode; "
        "requests are non-streaming openai-client calls over httpx.ASGITransport (in "
        "process, no sockets, no Ray), timed on the client; the modes are interleaved "
        "request by request.",
        "Memory requests set echo.write false, so the 10k memories and the session stay fixed "
        "while timing; capture (experience, session turns, the user's turn as a memory) runs "
        "after the response, off the response path; its row times "
        "CognitiveProcessor.capture called directly on prepared chats, one at a time, "
        "p50 = median [min-max] and p95 over those calls (one set, not repeats); the "
        "shard's LanceDB writes run on the calling event loop (the gateway's in process, "
        "the shard actor's under Ray), and the stall row is the longest time per capture "
        "that loop could run nothing else, such as another chat's recall.",
        f"Prefill (untimed): {params['memories']} synthetic chat-like texts embedded with "
        f"MiniLM in {params['prefill']['embed_seconds']:.1f} s and written through "
        f"MemoryShardCore.add in batches of {params['prefill']['batch']} in "
        f"{params['prefill']['add_seconds']:.1f} s, making {params['prefill']['links']} "
        "links (neighbour and temporal) (associative recall over them is off by default).",
        f"Context per memory request (median): {context['memories_in_context']['median']:.0f} "
        f"memories, {context['context_tokens']['median']:.0f} tokens; requests degraded "
        f"(answered without memory): {context['degraded_requests']}.",
        "Latency cells: median over repeats of each repeat's p50/p95, [min-max] over "
        "repeats; added = memory minus plain within each repeat.",
    ]
    if quick:
        lines.append(
            f"Quick run: {params['queries_per_repeat']} questions per repeat and "
            f"{params['captures']} captures ({FULL_QUERIES} and {FULL_CAPTURES} in a full run); "
            "all 10k memories are embedded with MiniLM in both runs."
        )
    return lines


def plot_pipeline(figures: dict[str, Any], path: Path) -> None:
    """Left: p50/p95 per mode with [min-max]; right: stacked stage p50s against added p50."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(
        1, 2, figsize=(10, 4.2), dpi=120, gridspec_kw={"width_ratios": [3, 2]}
    )
    width = 0.8 / len(MODES)
    colours = {"plain": "tab:grey", "memory": "tab:blue", "memory_no_trace": "tab:cyan"}
    for index, mode in enumerate(MODES):
        summaries = [figures["latency_ms"][mode][key] for key in ("p50_ms", "p95_ms")]
        medians = [float(s["median"]) for s in summaries]
        errors = [
            [m - float(s["min"]) for m, s in zip(medians, summaries, strict=True)],
            [float(s["max"]) - m for m, s in zip(medians, summaries, strict=True)],
        ]
        left.bar(
            [x + (index - 1) * width for x in range(2)],
            medians,
            width,
            yerr=errors,
            capsize=3,
            color=colours[mode],
            label=MODE_LABELS[mode],
        )
    left.set_xticks(range(2), ["p50", "p95"])
    left.set_ylabel("request latency, client side (ms)")
    left.set_title(
        f"Chat latency, {REPLY_TOKENS}-token generation, {figures['memories']} memories",
        fontsize=10,
    )
    left.legend(fontsize=7, loc="lower right")
    left.grid(True, axis="y", alpha=0.3)

    stages = [
        (name, float(s["p50_ms"]["median"]))
        for name, s in figures["stages_ms"].items()
        if name not in (PIPELINE_TOTAL, INFERENCE_STAGE)
    ]
    bottom = 0.0
    colour_map = plt.get_cmap("tab20")
    for index, (name, ms) in enumerate(stages):
        right.bar(["stages (p50 each)"], [ms], bottom=bottom, color=colour_map(index), label=name)
        bottom += ms
    added = float(figures["added_ms"]["memory"]["p50_ms"]["median"])
    right.bar(["added p50"], [added], color="tab:grey")
    right.axhline(
        TARGET_ADDED_P50_MS,
        color="tab:red",
        linestyle=":",
        label=f"target {TARGET_ADDED_P50_MS:.0f} ms",
    )
    right.set_ylabel("ms")
    right.set_title("Pipeline stages vs added latency", fontsize=10)
    right.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


# --- setup -----------------------------------------------------------------------------------


def make_config(scratch: Path) -> EchoRayConfig:
    """One fake model with a fixed-length reply, one memory shard under ``scratch``."""
    from echoray.config import config_from_args

    return config_from_args(
        {
            "models": [
                {
                    "name": MODEL,
                    "engine": {
                        "kind": "fake",
                        "reply": reply_text(REPLY_TOKENS),
                        "token_delay_s": TOKEN_DELAY_S,
                    },
                }
            ],
            "storage": {"uri": str(scratch / "db")},
            "cache": {"dir": str(scratch / "cache")},
            "memory": {"num_shards": 1},
        }
    )


async def prefill(
    shard: MemoryShardCore,
    tenant: str,
    texts: Sequence[str],
    vectors: np.ndarray,
    batch: int,
) -> None:
    """Write ``texts`` as the user's memories, one session per ``SESSION_LENGTH``."""
    from echoray.memory.records import MemoryRecord

    epoch = datetime.now(UTC) - timedelta(minutes=len(texts) + 60)
    for start in range(0, len(texts), batch):
        records = [
            MemoryRecord.build(
                id=f"m{i}",
                tenant=tenant,
                user=USER,
                session=f"s{i // SESSION_LENGTH}",
                text=texts[i],
                vector=vectors[i],
                created_at=epoch + timedelta(minutes=i),
            )
            for i in range(start, min(start + batch, len(texts)))
        ]
        await shard.add(tenant, USER, records)


# --- timing ----------------------------------------------------------------------------------


def _messages(question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}]


async def _request(
    client: openai.AsyncOpenAI, mode: str, question: str
) -> tuple[float, dict[str, Any] | None]:
    """One timed chat in ``mode``: (client-side ms, the echo trace or None)."""
    kwargs: dict[str, Any] = {}
    if mode != "plain":
        echo = {"session": SESSION, "write": False, "trace": mode == "memory"}
        kwargs = {"user": USER, "extra_body": {"echo": echo}}
    started = time.perf_counter()
    response = await client.chat.completions.create(
        model=MODEL,
        messages=_messages(question),  # type: ignore[arg-type]
        max_tokens=REPLY_TOKENS,
        **kwargs,
    )
    elapsed = (time.perf_counter() - started) * 1000.0
    await asyncio.sleep(0)  # let the (no-op, write: false) capture task finish
    usage = response.usage
    if usage is None or usage.completion_tokens != REPLY_TOKENS:
        raise RuntimeError(f"{mode}: expected {REPLY_TOKENS} completion tokens, got {usage}")
    echo_out = (response.model_extra or {}).get("echo")
    if mode == "memory" and not isinstance(echo_out, dict):
        raise RuntimeError("memory mode: the response carries no echo trace")
    return elapsed, echo_out


async def time_modes(
    client: openai.AsyncOpenAI, questions: Sequence[str], repeats: int
) -> dict[str, Any]:
    """Client-side ms per mode per repeat, and the memory mode's traces."""
    for i in range(WARMUP_QUERIES):  # affect axes, tokenizer, LanceDB and torch code paths
        for mode in MODES:
            await _request(client, mode, questions[i % len(questions)])
    samples: dict[str, list[list[float]]] = {mode: [] for mode in MODES}
    traces: list[list[dict[str, Any]]] = []
    for _ in range(repeats):
        per_mode: dict[str, list[float]] = {mode: [] for mode in MODES}
        repeat_traces: list[dict[str, Any]] = []
        for i, question in enumerate(questions):
            shift = i % len(MODES)
            for mode in MODES[shift:] + MODES[:shift]:
                elapsed, echo = await _request(client, mode, question)
                per_mode[mode].append(elapsed)
                if mode == "memory" and echo is not None:
                    repeat_traces.append(echo)
        for mode in MODES:
            samples[mode].append(per_mode[mode])
        traces.append(repeat_traces)
    return {"samples": samples, "traces": traces}


async def _longest_stall(stop: asyncio.Event) -> float:
    """The longest time (ms) the event loop ran no other task, until ``stop`` is set."""
    longest, last = 0.0, time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(STALL_TICK_S)
        now = time.perf_counter()
        longest = max(longest, now - last - STALL_TICK_S)
        last = now
    return longest * 1000.0


async def time_captures(
    config: EchoRayConfig, hosts: Any, shards: Any, embedder: Any, questions: Sequence[str]
) -> dict[str, list[float]]:
    """Milliseconds of ``CognitiveProcessor.capture`` per prepared chat, one at a time, and
    the longest event-loop stall during each (the shard is called on the loop)."""
    from echoray.cognition.processor import ChatTurn
    from echoray.protocol.openai import EchoOptions
    from echoray.services.local import LocalEmbeddingClient, LocalShards, make_local_processor

    processor = make_local_processor(
        config, hosts, LocalShards(shards), LocalEmbeddingClient(embedder)
    )
    options = EchoOptions(session=CAPTURE_SESSION, write=True)
    tenant = config.auth.default_tenant
    reply = reply_text(REPLY_TOKENS)
    samples: dict[str, list[float]] = {"ms": [], "stall_ms": []}
    for i, question in enumerate([questions[0], *questions]):  # the first is a warm-up
        prepared = await processor.prepare(
            ChatTurn(
                tenant, USER, MODEL, _messages(question), REPLY_TOKENS, options, f"capture-{i}"
            )
        )
        assert prepared.capture is not None
        stop = asyncio.Event()
        watch = asyncio.create_task(_longest_stall(stop))
        await asyncio.sleep(0)  # the watcher starts before the capture
        started = time.perf_counter()
        await processor.capture(prepared.capture, reply, 100.0)
        elapsed = (time.perf_counter() - started) * 1000.0
        stop.set()
        stall = await watch
        if i > 0:
            samples["ms"].append(elapsed)
            samples["stall_ms"].append(stall)
    return samples


async def _measure(
    config: EchoRayConfig,
    embedder: MiniLMEmbedder,
    texts: Sequence[str],
    questions: Sequence[str],
    captures: int,
    repeats: int,
) -> dict[str, Any]:
    import httpx
    import openai

    from echoray.api.local import make_local_app
    from echoray.services.local import make_local_hosts, make_local_shards

    tenant = config.auth.default_tenant
    shards = make_local_shards(config, DIMENSION)
    started = time.perf_counter()
    vectors = await asyncio.to_thread(embedder.embed, list(texts))
    embed_seconds = time.perf_counter() - started
    started = time.perf_counter()
    await prefill(shards[0], tenant, texts, vectors, config.memory.max_batch)
    add_seconds = time.perf_counter() - started
    working_set = shards[0].working_set
    stored = len(working_set) if working_set is not None else -1
    if stored != len(texts):
        raise RuntimeError(f"the working set holds {stored} of {len(texts)} memories")

    hosts = make_local_hosts(config)
    for host in hosts.values():
        host.start_background()
        await host.wait_ready()
    app = make_local_app(config, hosts, embedder, shards)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://echoray.test")
    # openai is typed for httpx2 clients and accepts httpx ones (tests/helpers.py does too).
    client = openai.AsyncOpenAI(
        base_url="http://echoray.test/v1",
        api_key="none",
        http_client=http,  # type: ignore[arg-type]
        max_retries=0,
    )
    try:
        timed = await time_modes(client, questions, repeats)
        capture = await time_captures(config, hosts, shards, embedder, questions[:captures])
    finally:
        await http.aclose()
        for host in hosts.values():
            await host.shutdown()
        for shard in shards:
            await shard.close()
    return {
        **timed,
        "capture": capture,
        "prefill": {
            "embed_seconds": round(embed_seconds, 2),
            "add_seconds": round(add_seconds, 2),
            "batch": config.memory.max_batch,
            "links": len(shards[0].graph),
        },
    }


def summarize_run(measured: dict[str, Any], memories: int) -> dict[str, Any]:
    """The figures of one run from its raw samples and traces."""
    samples = measured["samples"]
    traces = measured["traces"]
    stages = stage_figures([[t["stages_ms"] for t in repeat] for repeat in traces])
    added = {mode: added_latency(samples["plain"], samples[mode]) for mode in MODES[1:]}
    total = stages.get(PIPELINE_TOTAL)
    outside = float(added["memory"]["p50_ms"]["median"]) - (
        float(total["p50_ms"]["median"]) if total else 0.0
    )
    all_traces = [t for repeat in traces for t in repeat]
    capture = measured["capture"]
    return {
        "memories": memories,
        "latency_ms": {mode: summarize_repeats(samples[mode]) for mode in MODES},
        "added_ms": added,
        "stages_ms": stages,
        "outside_stages_p50_ms": outside,
        "target": target_verdict(added["memory"]),
        "context": {
            "memories_in_context": summarize([len(t["memories"]) for t in all_traces]),
            "context_tokens": summarize([t["context_tokens"] for t in all_traces]),
            "degraded_requests": sum(1 for t in all_traces if t["degraded"]),
        },
        "capture_ms": {
            "per_call": summarize(capture["ms"]),
            "p95_ms": percentile(capture["ms"], 95),
            "longest_loop_stall": summarize(capture["stall_ms"]),
            "longest_loop_stall_p95_ms": percentile(capture["stall_ms"], 95),
            "n": len(capture["ms"]),
        }
        if capture["ms"]
        else None,
    }


def run(ctx: BenchContext) -> BenchResult:
    """Measure the latency memory adds to a chat; see the module docstring."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # torch's OpenMP workers otherwise spin after each MiniLM call and steal the other core.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    from echoray.embeddings.minilm import MiniLMEmbedder

    load_average = os.getloadavg()
    repeats = max(1, ctx.repeats)
    queries = QUICK_QUERIES if ctx.quick else FULL_QUERIES
    captures = QUICK_CAPTURES if ctx.quick else FULL_CAPTURES
    scratch = ctx.out_dir / NAME
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True, exist_ok=True)
    config = make_config(scratch)
    embedder = MiniLMEmbedder()
    texts = synthetic_texts(MEMORIES, seed=0)
    questions = synthetic_queries(max(queries, captures), seed=1)
    try:
        measured = asyncio.run(
            _measure(config, embedder, texts, questions[:queries], captures, repeats)
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    figures = summarize_run(measured, MEMORIES)
    params = {
        "memories": MEMORIES,
        "memory_texts": "synthetic chat-like texts (benchmarks.memory.synthetic_texts), each "
        "embedded with MiniLM, one user, one session per 32, one minute apart",
        "prefill": measured["prefill"],
        "generation": f"FakeEngine, fixed {REPLY_TOKENS}-word reply ({REPLY_TOKENS} tokens), "
        f"{TOKEN_DELAY_S * 1000:.0f} ms sleep per token, non-streaming",
        "queries_per_repeat": queries,
        "query_texts": "synthetic questions (benchmarks.memory.synthetic_queries)",
        "warmup_queries": WARMUP_QUERIES,
        "captures": captures,
        "modes": MODE_LABELS,
        "echo": {"session": SESSION, "write": False},
        "embedding_model": f"all-MiniLM-L6-v2 ({embedder.model_name}) via MiniLMEmbedder, CPU",
        "cognition": config.cognition.model_dump(exclude={"deployment", "weights"}),
        "memory_shards": config.memory.num_shards,
        "working_set_dtype": config.memory.working_set_dtype,
        "stage_p50_ms": {
            name: round(float(s["p50_ms"]["median"]), 3) for name, s in figures["stages_ms"].items()
        },
        "quick_cut": f"{queries} questions per repeat, {captures} captures" if ctx.quick else None,
        "repeats": repeats,
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": [round(value, 2) for value in load_average],
    }
    machine_note = (
        f"torch threads {params['torch_threads']}; load average at start "
        f"{load_average[0]:.2f}; other processes on the machine slow these figures."
    )
    return BenchResult(
        name=NAME,
        params=params,
        figures=figures,
        table=table_rows(figures),
        notes=[*notes(figures, params, ctx.quick), machine_note],
        plot=partial(plot_pipeline, figures),
    )
