import json
from datetime import UTC, datetime

import numpy as np

from echoray.cognition.state import Affect, PatternMatch
from echoray.cognition.trace import trace
from echoray.memory.records import Why
from tests.unit.cognition.factory import candidate, state


def test_trace_is_plain_json_with_every_part() -> None:
    kept = candidate(
        "beagle",
        text="Nadia adopted a beagle",
        created_at=datetime(2026, 11, 2, 9, tzinfo=UTC),
        score=np.float32(0.75),
        components={"relevance": np.float64(0.8), "goal": 0.5},
        reasons=["serves goal: get a dog"],
        why={"dense_rank": np.int64(1), "lexical_rank": None, "link_path": ("a", "b")},
        source="associative",
    )
    s = state(
        selected=[kept],
        dropped=[("old", "superseded by beagle")],
        query_affect=Affect(0.5, 0.25, 0.75),
        pattern=PatternMatch("p1", "pets", 0.9),
        context_text="Memories:\n- [2026-11-02] Nadia adopted a beagle",
        context_tokens=12,
        budget_tokens=512,
        timings_ms={"recall": 3.14159},
        degraded=["memory: timed out after 300 ms"],
    )
    echo = json.loads(json.dumps(trace(s)))
    assert echo == {
        "session": "s1",
        "memories": [
            {
                "id": "beagle",
                "text": "Nadia adopted a beagle",
                "kind": "episodic",
                "created_at": "2026-11-02T09:00:00+00:00",
                "score": 0.75,
                "components": {"relevance": 0.8, "goal": 0.5},
                "reasons": ["serves goal: get a dog"],
                "why": {"dense_rank": 1, "lexical_rank": None, "link_path": ["a", "b"]},
                "source": "associative",
            }
        ],
        "dropped": [{"id": "old", "reason": "superseded by beagle"}],
        "query_affect": {"valence": 0.5, "arousal": 0.25, "dominance": 0.75},
        "pattern": {"id": "p1", "label": "pets", "confidence": 0.9},
        "context": "Memories:\n- [2026-11-02] Nadia adopted a beagle",
        "context_tokens": 12,
        "budget_tokens": 512,
        "stages_ms": {"recall": 3.142},
        "degraded": ["memory: timed out after 300 ms"],
    }


def test_an_empty_state_traces_to_nones_and_empties() -> None:
    echo = trace(state(session=None))
    json.dumps(echo)
    assert echo["memories"] == [] and echo["dropped"] == []
    assert echo["query_affect"] is None and echo["pattern"] is None
    assert echo["session"] is None and echo["context_tokens"] == 0


def test_a_pydantic_why_is_dumped() -> None:
    c = candidate("a", why={"why": Why(dense_rank=2, link_path=["x"])})
    echo = trace(state(selected=[c]))
    assert json.loads(json.dumps(echo))["memories"][0]["why"] == {
        "why": {"dense_rank": 2, "lexical_rank": None, "link_path": ["x"]}
    }
