"""A real LanceDB database on a temporary folder for each test."""

from __future__ import annotations

from pathlib import Path

import pytest

from echoray.config import MemoryConfig
from echoray.memory.store import LanceDBStore

DIMENSION = 384


@pytest.fixture
def store(tmp_path: Path) -> LanceDBStore:
    return LanceDBStore(str(tmp_path / "db"), DIMENSION, limits=MemoryConfig())
