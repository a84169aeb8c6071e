"""The consolidation benchmark's synthetic data, small: every step finds exactly what
``seed`` planted (so the 100k figures time real work, not a run that found nothing)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from benchmarks.consolidation import _in_process, seed


def test_a_run_finds_what_was_planted(tmp_path: Path) -> None:
    users = 4
    planted = seed(tmp_path / "db", memories=400, users=users)
    assert planted == {"duplicates": 40, "clustered": 40, "old": 40}
    result = asyncio.run(_in_process(tmp_path / "db", workers=2))
    counts = result["counts"]
    assert counts["merged"] == planted["duplicates"]
    assert counts["reflections"] == planted["clustered"] // 5  # topic clusters of five
    assert counts["archived"] == planted["old"]
    assert counts["patterns"] == 5 * users  # five distinct questions per user
    assert counts["promoted"] == 0 and result["seconds"] > 0
