"""Shared test settings: offline models, one model cache reused across runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def model_cache_dir() -> Path:
    """Converted models are cached here, so only the first run on a machine converts."""
    path = Path(os.environ.get("ECHORAY_TEST_CACHE", REPO / "data" / "cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path
