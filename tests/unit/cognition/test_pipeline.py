import asyncio
import json
from datetime import timedelta
from functools import partial

import numpy as np
import pytest

from echoray.cognition.coherence import check_coherence
from echoray.cognition.context import build_context
from echoray.cognition.goals import align_goals
from echoray.cognition.pipeline import Stage, run_stages, with_deadline
from echoray.cognition.resonance import resonate
from echoray.cognition.state import CognitiveState, take_query
from echoray.cognition.trace import trace
from echoray.config import CognitionConfig
from tests.unit.cognition.factory import NOW, at_cosine, candidate, state, vec


async def test_stages_run_in_order_and_are_timed() -> None:
    seen: list[str] = []
    timings: list[tuple[str, float]] = []

    def first(s: CognitiveState) -> None:
        seen.append("first")

    async def second(s: CognitiveState) -> None:
        await asyncio.sleep(0.02)
        seen.append("second")

    s = state()
    await run_stages(
        s, [("first", first), ("second", second)], lambda n, ms: timings.append((n, ms))
    )
    assert seen == ["first", "second"]
    assert list(s.timings_ms) == ["first", "second"]
    assert s.timings_ms["second"] >= 15
    assert timings == list(s.timings_ms.items())


async def test_a_failing_stage_is_timed_and_stops_the_run() -> None:
    def broken(s: CognitiveState) -> None:
        raise RuntimeError("bug")

    def never(s: CognitiveState) -> None:
        raise AssertionError("must not run")

    s = state()
    with pytest.raises(RuntimeError, match="bug"):
        await run_stages(s, [("broken", broken), ("never", never)])
    assert list(s.timings_ms) == ["broken"]


async def test_with_deadline_returns_the_result() -> None:
    async def recall() -> list[str]:
        return ["m1"]

    s = state()
    assert await with_deadline(recall(), 1.0, s, "memory") == ["m1"]
    assert s.degraded == []


async def test_with_deadline_cancels_slow_work_and_says_so() -> None:
    cancelled = asyncio.Event()

    async def slow() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    s = state()
    assert await with_deadline(slow(), 0.05, s, "memory") is None
    assert s.degraded == ["memory: timed out after 50 ms"]
    assert cancelled.is_set()


async def test_with_deadline_turns_a_failure_into_a_degraded_note() -> None:
    async def down() -> str:
        raise ConnectionError("shard 1 is down")

    s = state()
    assert await with_deadline(down(), 1.0, s, "memory") is None
    assert s.degraded == ["memory: ConnectionError: shard 1 is down"]


async def test_the_stages_compose_into_a_request() -> None:
    config = CognitionConfig(context_limit=2)
    old_flight = candidate(
        "old-flight",
        text="My flight to Lisbon leaves at 9",
        relevance=0.9,
        created_at=NOW - timedelta(days=3),
        vector=vec(1),
    )
    new_flight = candidate(
        "new-flight",
        text="My flight to Lisbon leaves at 11",
        relevance=0.85,
        vector=at_cosine(0.85),
    )
    echo = candidate("echo", text="My flight to Lisbon leaves at 11", vector=at_cosine(0.97))
    cello = candidate(
        "cello", text="Nadia practises cello scales", relevance=0.4, vector=vec(0, 0, 1)
    )
    dog = candidate("dog", text="Nadia walks the beagle", relevance=0.45, vector=vec(0, 0, 0, 1))
    s = state(
        messages=[{"role": "user", "content": "When do I leave?"}],
        goals=["learn cello"],
        goal_vectors=np.stack([vec(0, 0, 1)]),
        candidates=[dog, old_flight, echo, cello, new_flight],
    )
    stages: list[Stage] = [
        ("query", take_query),
        (
            "resonance",
            partial(resonate, weights=config.weights, half_life_s=config.recency_half_life_s),
        ),
        ("goals", partial(align_goals, boost=config.goal_boost)),
        (
            "coherence",
            partial(
                check_coherence,
                duplicate_cosine=config.duplicate_cosine,
                conflict_cosine=config.conflict_cosine,
                mmr_lambda=config.mmr_lambda,
                limit=config.context_limit,
            ),
        ),
        ("context", partial(build_context, count_tokens=lambda t: len(t.split()))),
    ]
    await run_stages(s, stages)

    assert s.query == "When do I leave?"
    assert dict(s.dropped) == {
        "echo": "near-duplicate of new-flight",
        "old-flight": "superseded by new-flight",
    }
    # The goal lifts cello past the dog it would otherwise trail.
    assert [c.id for c in s.selected] == ["new-flight", "cello"]
    assert "serves goal: learn cello" in s.selected[1].reasons
    assert "My flight to Lisbon leaves at 11" in s.messages_out[0]["content"]
    assert list(s.timings_ms) == ["query", "resonance", "goals", "coherence", "context"]
    assert json.loads(json.dumps(trace(s)))["memories"][0]["id"] == "new-flight"
