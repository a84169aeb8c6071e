"""The two dataclasses a benchmark module exchanges with the runner.

A benchmark module exposes ``run(ctx: BenchContext) -> BenchResult``; see
:mod:`benchmarks.runner` for how modules are registered and what the runner writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class BenchContext:
    """What the runner tells a benchmark about this run.

    Attributes:
        quick: run a reduced but still meaningful version (``make bench``); a benchmark says
            in its ``params`` what it cut.
        out_dir: the results folder; the runner writes ``<name>.json`` and ``<name>.png`` here,
            a benchmark may put scratch files under ``out_dir / name``.
        data: an input file given with ``--data`` (each benchmark documents its format), or
            None for the benchmark's own default.
        repeats: how many times to repeat each timed measurement; figures are medians over them.
    """

    quick: bool
    out_dir: Path
    data: Path | None
    repeats: int


@dataclass
class BenchResult:
    """What a benchmark hands back to the runner.

    Attributes:
        name: the benchmark's registered name (the runner checks it matches).
        params: the settings that shaped the numbers (data file, model, limits, k values…).
        figures: nested JSON-able numbers (dicts, lists, str, int, float, bool, None); every
            timed figure a median over repeats with its spread, see :mod:`benchmarks.stats`.
        table: rows of the markdown table in BENCHMARKS.md, each a flat dict column -> value,
            all rows sharing the columns of the first.
        notes: short sentences printed under the table (caveats, what was not measured, ratios).
        plot: writes one PNG with matplotlib (Agg backend) to the path given, or None.
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    table: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    plot: Callable[[Path], None] | None = None
