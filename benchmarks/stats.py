"""Summary statistics shared by every benchmark (pure Python, no numpy).

The reporting rule of the project: every figure is a median over repeats, shown with its
spread (p5/p95 or min/max), and where a baseline exists, with a ratio against that baseline
measured in the same run. These helpers compute exactly those numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def percentile(samples: Iterable[float], q: float) -> float:
    """Return the q-th percentile of ``samples`` with linear interpolation.

    Matches ``numpy.percentile(samples, q)`` with its default ``method="linear"``: the value
    at fractional rank ``(n - 1) * q / 100`` of the sorted samples.

    Raises:
        ValueError: if ``samples`` is empty or ``q`` is outside [0, 100].
    """
    ordered = sorted(float(x) for x in samples)
    if not ordered:
        raise ValueError("percentile of an empty sample")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile q must be within [0, 100], got {q}")
    position = (len(ordered) - 1) * q / 100.0
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    fraction = position - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * fraction


def median(samples: Iterable[float]) -> float:
    """Return the median (the 50th percentile, averaging the two middle values when even)."""
    return percentile(samples, 50.0)


def summarize(samples: Iterable[float]) -> dict[str, float | int]:
    """Summarize repeated measurements as ``{"median", "p5", "p95", "min", "max", "n"}``.

    Raises:
        ValueError: if ``samples`` is empty.
    """
    values = [float(x) for x in samples]
    if not values:
        raise ValueError("cannot summarize an empty sample")
    return {
        "median": median(values),
        "p5": percentile(values, 5.0),
        "p95": percentile(values, 95.0),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def ratio(value: float, baseline: float) -> float | None:
    """Return ``value / baseline``, or None when the baseline is zero (no meaningful ratio).

    None rather than inf/nan because the results are written as strict JSON.
    """
    if baseline == 0:
        return None
    return value / baseline


def format_spread(summary: dict[str, float | int], digits: int = 1) -> str:
    """``median [min-max]`` from a :func:`summarize` result, for tables."""
    return (
        f"{summary['median']:.{digits}f} [{summary['min']:.{digits}f}-{summary['max']:.{digits}f}]"
    )
