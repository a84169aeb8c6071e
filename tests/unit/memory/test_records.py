"""Record validation: ranges, identifiers, vectors, metadata and configured limits."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from pydantic import ValidationError

from echoray.config import MemoryConfig
from echoray.errors import PayloadTooLargeError, UnprocessableEntityError
from echoray.memory.limits import check_limit, check_limits, metadata_bytes
from echoray.memory.records import (
    Link,
    MemoryFilter,
    MemoryPatch,
    MemoryRecord,
)
from tests.unit.memory.factory import record


def test_defaults_and_normalisation() -> None:
    memory = MemoryRecord.build(tenant="acme", user="alice", text="hi", vector=[3.0, 4.0])
    assert len(memory.id) == 32
    assert memory.kind == "episodic"
    assert memory.last_accessed == memory.created_at
    assert memory.created_at.tzinfo is UTC
    assert np.allclose(memory.vector, [0.6, 0.8])
    assert memory.vector.dtype == np.float32


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("importance", -0.01),
        ("importance", 1.01),
        ("strength", 2),
        ("valence", -1.5),
        ("valence", 1.01),
        ("arousal", -0.1),
        ("dominance", 1.1),
        ("importance", float("nan")),
        ("access_count", -1),
        ("kind", "dream"),
        ("text", ""),
        ("vector", [0.0, 0.0]),
        ("vector", [float("inf"), 1.0]),
        ("vector", [[1.0, 2.0]]),
        ("vector", []),
        ("user", "x' OR '1'='1"),
        ("tenant", "a b"),
        ("session", "bob\\"),
        ("id", "../etc"),
        ("sources", ["ok", "not ok"]),
        ("metadata", {"k": float("nan")}),
        ("metadata", {"k": object()}),
        ("metadata", {"": 1}),
        ("metadata", {"k" * 65: 1}),
        ("unknown_field", 1),
    ],
)
def test_invalid_fields_give_422_naming_the_field(field: str, value: object) -> None:
    data: dict = {"tenant": "acme", "user": "alice", "text": "hi", "vector": [1.0, 0.0]}
    data[field] = value
    with pytest.raises(UnprocessableEntityError) as caught:
        MemoryRecord.build(**data)
    assert caught.value.status_code == 422
    assert caught.value.param is not None and caught.value.param.startswith(field)


def test_direct_construction_raises_pydantic_errors() -> None:
    with pytest.raises(ValidationError):
        MemoryRecord(tenant="acme", user="alice", text="hi", vector=[1.0], importance=3)


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [("importance", 0, 1), ("strength", 0, 1), ("valence", -1, 1), ("arousal", 0, 1)],
)
def test_range_bounds_are_inclusive(field: str, low: float, high: float) -> None:
    for value in (low, high):
        memory = MemoryRecord.build(
            tenant="acme", user="alice", text="x", vector=[1.0], **{field: value}
        )
        assert getattr(memory, field) == value


def test_timestamps_become_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    memory = MemoryRecord.build(
        tenant="acme",
        user="alice",
        text="x",
        vector=[1.0],
        created_at=datetime(2025, 1, 1, 12, tzinfo=plus_two),
    )
    assert memory.created_at == datetime(2025, 1, 1, 10, tzinfo=UTC)
    assert memory.created_at.utcoffset() == timedelta(0)


def test_limits_from_config() -> None:
    limits = MemoryConfig(max_text_chars=10, max_metadata_bytes=20, max_batch=2)
    ok = record("short", metadata={"a": 1})
    check_limits([ok, ok], limits)
    with pytest.raises(PayloadTooLargeError) as caught:
        check_limits([record("x" * 11)], limits)
    assert caught.value.param == "memories.0.text" and caught.value.status_code == 413
    with pytest.raises(PayloadTooLargeError) as caught:
        check_limits([ok, record("y", metadata={"key": "v" * 20})], limits)
    assert caught.value.param == "memories.1.metadata"
    with pytest.raises(PayloadTooLargeError):
        check_limits([ok, ok, ok], limits)
    with pytest.raises(UnprocessableEntityError):
        check_limits([], limits)


def test_metadata_size_counts_utf8_bytes() -> None:
    assert metadata_bytes({}) == 2
    assert metadata_bytes({"é": "漢"}) == len('{"é":"漢"}'.encode())


@pytest.mark.parametrize("limit", [0, -1, 101, 1.5, True, "10"])
def test_limit_out_of_range(limit: object) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        check_limit(limit, MemoryConfig())  # type: ignore[arg-type]
    assert caught.value.param == "limit"


def test_patch_applies_and_revalidates() -> None:
    memory = record("the old text", importance=0.2)
    patched = MemoryPatch.build(importance=0.9, metadata={"tag": "x"}).apply(memory)
    assert patched.importance == 0.9 and patched.metadata == {"tag": "x"}
    assert patched.id == memory.id and patched.text == memory.text
    with pytest.raises(UnprocessableEntityError):
        MemoryPatch.build(text="new text without a vector")
    with pytest.raises(UnprocessableEntityError):
        MemoryPatch.build(importance=3)
    with pytest.raises(UnprocessableEntityError):
        MemoryPatch.build(user="mallory")  # owner fields cannot be patched


def test_filter_validation() -> None:
    flt = MemoryFilter.build(user="alice", kinds=["semantic"], metadata={"topic": "tea"})
    assert flt.session is None
    for bad in (
        {"user": "a'b"},
        {"user": "alice", "session": "x' OR '1'='1"},
        {"user": "alice", "kinds": ["unknown"]},
        {"user": "alice", "kinds": []},
        {"user": "alice", "metadata": {"k": {"nested": 1}}},
        {"user": "alice", "metadata": {f"k{i}": i for i in range(17)}},
        {
            "user": "alice",
            "created_after": datetime(2025, 2, 1, tzinfo=UTC),
            "created_before": datetime(2025, 1, 1, tzinfo=UTC),
        },
        {},
    ):
        with pytest.raises(UnprocessableEntityError):
            MemoryFilter.build(**bad)


def test_links_refuse_loops_and_bad_weights() -> None:
    with pytest.raises(UnprocessableEntityError):
        Link.build(tenant="acme", user="alice", src="a", dst="a", kind="temporal", weight=1)
    with pytest.raises(UnprocessableEntityError):
        Link.build(tenant="acme", user="alice", src="a", dst="b", kind="temporal", weight=1.5)


def test_records_and_errors_pickle() -> None:
    memory = record("pickled", metadata={"a": [1, 2]})
    assert pickle.loads(pickle.dumps(memory)) == memory
    error = UnprocessableEntityError("bad", param="user", code="invalid_identifier")
    again = pickle.loads(pickle.dumps(error))
    assert (again.param, again.code) == ("user", "invalid_identifier")


def test_equality_compares_vectors() -> None:
    memory = record("same")
    other = memory.model_copy(update={"vector": memory.vector * -1})
    assert memory == memory.model_copy()
    assert memory != other
