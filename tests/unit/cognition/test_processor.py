"""The processor's pure helpers: follow-up context, pattern match, candidates, ids."""

from __future__ import annotations

import numpy as np
import pytest

from echoray.cognition.processor import experience_id
from echoray.cognition.stages import candidates_from, contextual_query, match_pattern
from echoray.config import CognitionConfig
from echoray.memory.records import ChatRecall, MemoryRecord, Pattern, Recalled, Why
from tests.unit.cognition.factory import NOW, at_cosine, vec


def test_a_short_follow_up_is_read_with_the_turn_before() -> None:
    messages = [
        {"role": "user", "content": "Tell me about my sister Lena."},
        {"role": "assistant", "content": "She is a nurse."},
        {"role": "user", "content": "And her city?"},
    ]
    assert contextual_query(messages, "And her city?") == (
        "Tell me about my sister Lena.\nAnd her city?"
    )
    long_turn = "Where does my sister Lena live these days?"
    assert contextual_query([*messages, {"role": "user", "content": long_turn}], long_turn) == (
        long_turn
    )
    assert contextual_query([{"role": "user", "content": "Hi"}], "Hi") == "Hi"


def pattern(pattern_id: str, centroid: np.ndarray, strength: float = 1.0) -> Pattern:
    return Pattern.build(
        id=pattern_id, tenant="t", user="u", centroid=centroid, count=3, strength=strength
    )


def test_pattern_match_takes_the_closest_above_the_threshold() -> None:
    query = vec(1.0)
    found = match_pattern(query, [pattern("near", at_cosine(0.9), 0.5), pattern("far", vec(0, 1))])
    assert found is not None and found.pattern_id == "near"
    assert found.confidence == pytest.approx(0.9 * 0.5, abs=1e-6)
    none_close = match_pattern(query, [pattern("far", vec(0, 1))])
    assert none_close is not None and none_close.pattern_id is None
    assert match_pattern(query, []) is None


def recalled(memory_id: str, vector: np.ndarray, link_path: list[str] | None = None) -> Recalled:
    record = MemoryRecord.build(
        id=memory_id, tenant="t", user="u", text=memory_id, vector=vector, created_at=NOW
    )
    return Recalled(record, 0.01, Why(dense_rank=1, link_path=link_path))


def test_candidates_take_relevance_from_the_rank_and_drop_the_unrelated() -> None:
    query = vec(1.0)
    recall = ChatRecall(
        [
            recalled("a", at_cosine(0.9)),
            recalled("b", at_cosine(0.5), link_path=["a", "b"]),
            recalled("c", at_cosine(0.05)),
        ],
        [],
        [],
    )
    config = CognitionConfig(relevance_rank_k=10, min_relevance_cosine=0.15)
    a, b, c = candidates_from(recall, query, config)
    assert a.relevance == 1.0 and b.relevance == pytest.approx(11 / 12)
    assert c.relevance == 0.0  # under min_relevance_cosine
    assert (a.source, b.source) == ("long_term", "associative")
    assert b.why["link_path"] == ["a", "b"] and a.why["cosine"] == pytest.approx(0.9, abs=1e-4)


def test_experience_ids_accept_response_ids_and_any_request_id() -> None:
    assert experience_id("abc123") == "abc123"
    assert experience_id("chatcmpl-abc123") == "abc123"
    odd = experience_id("a request id with spaces/and slashes")
    assert odd.startswith("req-") and odd == experience_id("a request id with spaces/and slashes")
