"""The search measurement runs (small here); it prints its numbers and asserts no times."""

from __future__ import annotations

import json

from echoray.memory.bench import measure_search


def test_measure_search_reports_percentiles() -> None:
    result = measure_search(rows=3000, dimension=64, queries=10)
    print(json.dumps(result, indent=2))
    for name in ("numpy_scan", "dense", "dense_filtered", "lexical", "recall"):
        assert set(result[name]) == {"p50_ms", "p95_ms", "mean_ms"}
        assert result[name]["p95_ms"] >= result[name]["p50_ms"] > 0
