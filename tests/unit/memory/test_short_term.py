"""Short-term memory against an in-memory turn store (LanceDB in tests/integration)."""

from __future__ import annotations

import pytest

from echoray.errors import PayloadTooLargeError, UnprocessableEntityError
from echoray.memory.records import Turn
from echoray.memory.short_term import ShortTermMemory


class ListStore:
    def __init__(self) -> None:
        self.rows: list[Turn] = []
        self.commits = 0

    def append_turns(self, turns: list[Turn]) -> None:
        self.commits += 1
        self.rows += turns

    def recent_turns(self, tenant: str, user: str, session: str, limit: int) -> list[Turn]:
        mine = [t for t in self.rows if (t.tenant, t.user, t.session) == (tenant, user, session)]
        return sorted(mine, key=lambda t: t.seq)[-limit:]

    def trim_turns(self, tenant: str, user: str, session: str, seq_below: int) -> int:
        before = len(self.rows)
        self.rows = [
            t
            for t in self.rows
            if not ((t.tenant, t.user, t.session) == (tenant, user, session) and t.seq < seq_below)
        ]
        return before - len(self.rows)

    def delete_session(self, tenant: str, user: str, session: str) -> int:
        return self.trim_turns(tenant, user, session, 2**62)


def test_bounded_ordered_and_persisted() -> None:
    store = ListStore()
    memory = ShortTermMemory(store, max_turns=3)
    for i in range(7):
        memory.append("acme", "alice", "s1", "user" if i % 2 == 0 else "assistant", f"turn {i}")
    assert [t.text for t in memory.recent("acme", "alice", "s1")] == ["turn 4", "turn 5", "turn 6"]
    assert [t.seq for t in memory.recent("acme", "alice", "s1", 2)] == [5, 6]
    assert memory.recent("acme", "alice", "s1", 0) == []
    assert len(store.rows) < 2 * 3  # trimmed as it goes
    restarted = ShortTermMemory(store, max_turns=3)
    assert [t.text for t in restarted.recent("acme", "alice", "s1")] == [
        "turn 4",
        "turn 5",
        "turn 6",
    ]
    assert restarted.append("acme", "alice", "s1", "user", "after restart").seq == 7


def test_sessions_and_users_are_separate() -> None:
    memory = ShortTermMemory(ListStore(), max_turns=5)
    memory.append("acme", "alice", "s1", "user", "alice s1")
    memory.append("acme", "bob", "s1", "user", "bob s1")
    memory.append("globex", "alice", "s1", "user", "globex alice s1")
    assert [t.text for t in memory.recent("acme", "alice", "s1")] == ["alice s1"]
    assert memory.recent("acme", "alice", "s2") == []


def test_extend_is_one_commit_and_forget_deletes() -> None:
    store = ListStore()
    memory = ShortTermMemory(store, max_turns=10)
    turns = memory.extend("acme", "alice", "s1", [("user", "q"), ("assistant", "a")])
    assert [t.seq for t in turns] == [0, 1] and store.commits == 1
    assert memory.forget("acme", "alice", "s1") == 2
    assert memory.recent("acme", "alice", "s1") == []


def test_invalid_input() -> None:
    memory = ShortTermMemory(ListStore(), max_turns=3, max_chars=5)
    with pytest.raises(PayloadTooLargeError):
        memory.append("acme", "alice", "s1", "user", "too long")
    with pytest.raises(UnprocessableEntityError):
        memory.append("acme", "alice", "s1", "wizard", "hi")  # type: ignore[arg-type]
    with pytest.raises(UnprocessableEntityError):
        memory.append("acme", "alice", "s1' OR '1'='1", "user", "hi")
