"""Recall with the real all-MiniLM-L6-v2 embedder: meaning, not shared words, decides."""

from __future__ import annotations

from pathlib import Path

import pytest

from echoray.config import MemoryConfig
from echoray.embeddings.minilm import MiniLMEmbedder
from echoray.memory.recall import recall
from echoray.memory.records import MemoryFilter, MemoryRecord
from echoray.memory.store import LanceDBStore
from echoray.memory.working_set import WorkingSet
from tests.unit.memory.factory import CORPUS

pytestmark = pytest.mark.model


def test_semantic_recall_after_a_restart(tmp_path: Path) -> None:
    embedder = MiniLMEmbedder()
    vectors = embedder.embed(CORPUS)
    records = [
        MemoryRecord.build(id=f"c{i}", tenant="acme", user="alice", text=text, vector=vectors[i])
        for i, text in enumerate(CORPUS)
    ]
    LanceDBStore(str(tmp_path / "db"), embedder.dimension).append(records)
    ws = WorkingSet(embedder.dimension)
    ws.load(LanceDBStore(str(tmp_path / "db"), embedder.dimension).scan())
    query = "What does Alice like to drink?"
    hits = recall(
        ws,
        None,
        tenant="acme",
        flt=MemoryFilter.build(user="alice"),
        query_vector=embedder.embed([query])[0],
        query_text=query,
        limit=3,
        config=MemoryConfig(),
    )
    assert {h.id for h in hits[:2]} == {"c1", "c7"}  # the two tea memories
    assert hits[0].why.dense_rank in (1, 2)
