"""The memory layer imports no Ray and no lancedb until a store is opened."""

from __future__ import annotations

import subprocess
import sys

MODULES = [
    "echoray.memory",
    "echoray.memory.schemas",
    "echoray.memory.records",
    "echoray.memory.safe",
    "echoray.memory.rows",
    "echoray.memory.store",
    "echoray.memory.working_set",
    "echoray.memory.lexical",
    "echoray.memory.graph",
    "echoray.memory.recall",
    "echoray.memory.short_term",
    "echoray.memory.group_commit",
    "echoray.memory.hashing",
    "echoray.memory.bench",
]


def test_memory_modules_load_no_heavy_library() -> None:
    code = (
        "import importlib, sys;"
        f"[importlib.import_module(m) for m in {MODULES!r}];"
        "heavy = ('ray', 'torch', 'lancedb', 'transformers');"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
