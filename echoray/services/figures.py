"""``live_figures``: the dashboard's service figures, read from the gateway's Prometheus
registry (application tier, plain Python).

The same samples ``/metrics`` renders, summed and summarised for a person: requests by
status class, latency per route, each model's engine queue and tokens, each shard, the
pipeline's stages, consolidation. Quantiles are estimated from the histogram buckets as
Prometheus' ``histogram_quantile`` does (linear within a bucket), over the whole life of
this process rather than a recent window.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from prometheus_client import CollectorRegistry

Samples = dict[str, list[tuple[dict[str, str], float]]]  # sample name -> (labels, value)


def live_figures(registry: CollectorRegistry) -> dict[str, Any]:
    """The figures of ``registry`` now; see the module docstring."""
    samples = _samples(registry)
    return {
        "requests": _requests(samples),
        "latency": _histograms(samples, "echoray_request_latency_seconds", ("route", "method")),
        "models": _models(samples),
        "shards": _shards(samples),
        "stages": _histograms(samples, "echoray_cognition_stage_seconds", ("stage",)),
        "degraded": _by(samples, "echoray_cognition_degraded_total", "what"),
        "memories_ingested": _by(samples, "echoray_memories_ingested_total", "result"),
        "feedback": _by(samples, "echoray_feedback_total", "verdict"),
        "consolidation": {
            "runs": _by(samples, "echoray_consolidation_runs_total", "state"),
            "items": _by(samples, "echoray_consolidation_items_total", "what"),
            "running": _sum(samples, "echoray_consolidation_running"),
        },
    }


def _samples(registry: CollectorRegistry) -> Samples:
    found: Samples = defaultdict(list)
    for family in registry.collect():
        for sample in family.samples:
            found[sample.name].append((dict(sample.labels), float(sample.value)))
    return found


def _sum(samples: Samples, name: str) -> float:
    return sum(value for _, value in samples.get(name, ()))


def _by(samples: Samples, name: str, label: str) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for labels, value in samples.get(name, ()):
        totals[labels.get(label, "")] += value
    return dict(totals)


def _requests(samples: Samples) -> dict[str, Any]:
    by_class: dict[str, float] = defaultdict(float)
    for labels, value in samples.get("echoray_requests_total", ()):
        by_class[labels.get("status", "?")[:1] + "xx"] += value
    return {
        "total": sum(by_class.values()),
        "by_status": dict(sorted(by_class.items())),
        "in_flight": _sum(samples, "echoray_requests_in_flight"),
        "refused": _sum(samples, "echoray_refusals_total"),
    }


def _histograms(samples: Samples, name: str, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per label set of histogram ``name``: count, mean and quantiles in ms, the
    busiest first."""
    buckets: dict[tuple[str, ...], list[tuple[float, float]]] = defaultdict(list)
    for labels, value in samples.get(f"{name}_bucket", ()):
        buckets[tuple(labels.get(k, "") for k in keys)].append((float(labels["le"]), value))
    sums = {tuple(la.get(k, "") for k in keys): v for la, v in samples.get(f"{name}_sum", ())}
    rows = []
    for key, cumulative in buckets.items():
        cumulative.sort()
        count = cumulative[-1][1] if cumulative else 0.0
        if count == 0:
            continue  # a label set made but never observed
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "count": count,
                "mean_ms": _ms(sums.get(key, 0.0) / count),
                "p50_ms": _ms(_quantile(0.5, cumulative)),
                "p95_ms": _ms(_quantile(0.95, cumulative)),
            }
        )
    return sorted(rows, key=lambda row: -row["count"])


def _quantile(q: float, cumulative: list[tuple[float, float]]) -> float | None:
    """``histogram_quantile`` over sorted ``(upper bound, cumulative count)``; a quantile
    in the ``+Inf`` bucket is the highest finite bound, as Prometheus answers."""
    total = cumulative[-1][1]
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, count in cumulative:
        if count >= rank:
            if math.isinf(bound):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return None


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _models(samples: Samples) -> list[dict[str, Any]]:
    models: dict[str, dict[str, Any]] = defaultdict(dict)
    for labels, value in samples.get("echoray_engine_requests", ()):
        models[labels["model"]][labels["state"]] = value
    for labels, value in samples.get("echoray_tokens_total", ()):
        models[labels["model"]][f"tokens_{labels['direction']}"] = value
    for row in _histograms(samples, "echoray_time_to_first_token_seconds", ("model",)):
        models[row["model"]].update(generations=row["count"], ttft_p50_ms=row["p50_ms"])
    for row in _histograms(samples, "echoray_time_per_output_token_seconds", ("model",)):
        models[row["model"]]["tpot_mean_ms"] = row["mean_ms"]
    return [{"model": name, **figures} for name, figures in sorted(models.items())]


def _shards(samples: Samples) -> list[dict[str, Any]]:
    shards: dict[str, dict[str, Any]] = defaultdict(dict)
    for sample, field in (
        ("echoray_shard_up", "up"),
        ("echoray_shard_memories", "memories"),
        ("echoray_shard_working_set_bytes", "bytes"),
        ("echoray_shard_pending_turns", "pending_turns"),
    ):
        for labels, value in samples.get(sample, ()):
            shards[labels["shard"]][field] = value
    return [{"shard": int(s), **shards[s]} for s in sorted(shards, key=int)]
