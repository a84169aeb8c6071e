"""The one benchmark runner: registry, execution, result files and BENCHMARKS.md.

Contract of a benchmark
-----------------------
A benchmark is a module exposing ``run(ctx: BenchContext) -> BenchResult`` (both dataclasses
live in :mod:`benchmarks.contract`). It imports heavy libraries (torch, ray, models) inside
``run``, never at module import. ``ctx`` says whether the run is ``quick``, where results go
(``out_dir``), an optional input file (``data``) and how many ``repeats`` to time. The result
carries ``name`` (the registered name), ``params``, ``figures`` (nested JSON-able numbers:
medians over repeats with spread, ratios against a same-run baseline), ``table`` (flat rows
for BENCHMARKS.md), ``notes`` and an optional ``plot(path)`` that writes a PNG with matplotlib
on the Agg backend.

Registering a benchmark
-----------------------
Add one line to ``BENCHMARKS`` below: ``"name": "dotted.module.path",``. Modules are imported
lazily, so ``python -m benchmarks list`` stays cheap and a broken benchmark only fails itself.

What the runner writes
----------------------
For each benchmark run: ``<out>/<name>.json`` (figures, params, table, notes, context,
machine, library versions, git commit, UTC date) and ``<out>/<name>.png`` from ``plot``. Then
it regenerates ``BENCHMARKS.md`` (repo root by default) from every ``<out>/*.json`` present.
"""

from __future__ import annotations

import importlib
import json
import math
import multiprocessing
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from benchmarks.contract import BenchContext, BenchResult
from benchmarks.environment import git_state, library_versions, machine_info, utc_now_iso
from benchmarks.report import write_report

__all__ = ["BENCHMARKS", "BenchContext", "BenchResult", "RunOutcome", "run_benchmarks"]

# name -> module exposing run(ctx) -> BenchResult. Add a benchmark with one line here.
BENCHMARKS: Mapping[str, str] = MappingProxyType(
    {
        "engine_step": "benchmarks.engine_step",
        "inference": "benchmarks.inference",
        "chain": "benchmarks.chain",
        "retrieval": "benchmarks.retrieval.bench",
        "memory": "benchmarks.memory",
        "pipeline": "benchmarks.pipeline",
        "consolidation": "benchmarks.consolidation",
    }
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REPORT = REPO_ROOT / "BENCHMARKS.md"


class UnknownBenchmarkError(ValueError):
    """A requested benchmark name is not in the registry."""


@dataclass(frozen=True)
class RunOutcome:
    """What happened to one benchmark in a runner invocation."""

    name: str
    ok: bool
    json_path: Path | None = None
    png_path: Path | None = None
    error: str | None = None
    seconds: float = 0.0


def resolve_names(names: Sequence[str], registry: Mapping[str, str] = BENCHMARKS) -> list[str]:
    """Return the benchmarks to run: ``names`` in order, or every registered one when empty.

    Raises:
        UnknownBenchmarkError: naming the unknown names and listing the known ones.
    """
    if not names:
        return list(registry)
    unknown = [name for name in names if name not in registry]
    if unknown:
        raise UnknownBenchmarkError(
            f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(registry)}"
        )
    return list(dict.fromkeys(names))


def _to_json(value: Any) -> Any:
    """Make figures JSON-safe: Paths and other objects become strings, NaN/inf become None."""
    if isinstance(value, dict):
        return {str(key): _to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if callable(getattr(value, "tolist", None)):  # numpy scalars and arrays, no numpy import
        return _to_json(value.tolist())
    return str(value)


def _write_plot(result: BenchResult, png_path: Path) -> Path | None:
    if result.plot is None:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display on CI machines or cluster nodes
    result.plot(png_path)
    return png_path if png_path.is_file() else None


def run_one(name: str, ctx: BenchContext, registry: Mapping[str, str] = BENCHMARKS) -> RunOutcome:
    """Import, run and record one benchmark; any failure is caught and reported, not raised."""
    started = time.perf_counter()
    try:
        module = importlib.import_module(registry[name])
        result: BenchResult = module.run(ctx)
        if result.name != name:
            raise ValueError(f"benchmark registered as {name!r} returned name {result.name!r}")
        png_path = _write_plot(result, ctx.out_dir / f"{name}.png")
        payload = {
            "name": name,
            "date": utc_now_iso(),
            "context": {"quick": ctx.quick, "repeats": ctx.repeats, "data": ctx.data},
            "params": result.params,
            "figures": result.figures,
            "table": result.table,
            "notes": result.notes,
            "plot_file": png_path.name if png_path else None,  # beside the JSON file
            "machine": machine_info(),
            "versions": library_versions(),
            "git": git_state(REPO_ROOT),
            "seconds": round(time.perf_counter() - started, 3),
        }
        json_path = ctx.out_dir / f"{name}.json"
        json_path.write_text(
            json.dumps(_to_json(payload), indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )
    except Exception:
        return RunOutcome(
            name, ok=False, error=traceback.format_exc(), seconds=time.perf_counter() - started
        )
    return RunOutcome(name, True, json_path, png_path, seconds=time.perf_counter() - started)


def run_isolated(name: str, ctx: BenchContext, registry: Mapping[str, str]) -> RunOutcome:
    """``run_one`` in a fresh interpreter: one benchmark's threads (OpenBLAS, torch) and
    memory never leak into the next, and Ray never forks from a process full of threads,
    which can deadlock its child processes."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        try:
            return pool.submit(run_one, name, ctx, dict(registry)).result()
        except Exception:  # the child died (out of memory, a crash in native code)
            return RunOutcome(name, ok=False, error=traceback.format_exc())


def run_benchmarks(
    names: Sequence[str],
    *,
    quick: bool,
    out_dir: Path,
    data: Path | None = None,
    repeats: int | None = None,
    report_path: Path | None = DEFAULT_REPORT,
    registry: Mapping[str, str] = BENCHMARKS,
) -> list[RunOutcome]:
    """Run the named benchmarks (all when ``names`` is empty) and regenerate the report.

    ``repeats`` defaults to 3 for quick runs and 5 for full ones. ``report_path=None`` skips
    writing BENCHMARKS.md. Failures of single benchmarks are returned, not raised.

    Raises:
        UnknownBenchmarkError: before running anything, if a name is not registered.
    """
    selected = resolve_names(names, registry)
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = BenchContext(
        quick=quick,
        out_dir=out_dir,
        data=data,
        repeats=repeats if repeats is not None else (3 if quick else 5),
    )
    outcomes = []
    for name in selected:
        print(f"[benchmarks] {name}: running (quick={quick}, repeats={ctx.repeats})", flush=True)
        outcome = run_isolated(name, ctx, registry)
        status = "ok" if outcome.ok else "FAILED"
        print(f"[benchmarks] {name}: {status} in {outcome.seconds:.1f} s", flush=True)
        if outcome.error:
            print(outcome.error, file=sys.stderr, flush=True)
        outcomes.append(outcome)
    if report_path is not None:
        written = write_report(out_dir, report_path)
        print(f"[benchmarks] report: {written}", flush=True)
    return outcomes
