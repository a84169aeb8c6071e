from datetime import UTC, datetime

from echoray.cognition.context import (
    DEFAULT_HEADER,
    EARLIER_HEADER,
    TEMPLATE_TOKENS_PER_MESSAGE,
    build_context,
)
from echoray.cognition.state import Candidate
from tests.unit.cognition.factory import candidate, state


def words(text: str) -> int:
    return len(text.split())


def beagle(score: float = 0.9) -> Candidate:
    return candidate(
        "beagle",
        text="Nadia adopted a beagle",
        score=score,
        created_at=datetime(2026, 11, 2, 9, tzinfo=UTC),
    )


def cello(score: float = 0.5) -> Candidate:
    return candidate(
        "cello",
        text="Nadia is learning\nthe  cello",
        score=score,
        created_at=datetime(2026, 10, 30, 23, 30, tzinfo=UTC),
    )


def test_memories_go_into_an_inserted_system_message_most_relevant_first() -> None:
    messages = [{"role": "user", "content": "any news?"}]
    s = state(messages=messages, selected=[cello(), beagle()])
    build_context(s, words)
    section = (
        f"{DEFAULT_HEADER}\n"
        "- [2026-11-02] Nadia adopted a beagle\n"
        "- [2026-10-30] Nadia is learning the cello"
    )
    assert s.context_text == section
    assert s.context_tokens == words(section)
    assert s.messages_out == [{"role": "system", "content": section}, *messages]
    assert [c.id for c in s.selected] == ["beagle", "cello"]
    assert s.messages == [{"role": "user", "content": "any news?"}]


def test_an_existing_system_message_is_extended() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "any news?"},
    ]
    s = state(messages=messages, selected=[beagle()])
    build_context(s, words, header="Memories:")
    assert s.messages_out == [
        {
            "role": "system",
            "content": "Be brief.\n\nMemories:\n- [2026-11-02] Nadia adopted a beagle",
        },
        {"role": "user", "content": "any news?"},
    ]
    assert messages[0]["content"] == "Be brief."


def test_the_section_stays_within_its_budget() -> None:
    long = candidate("long", text=" ".join(["word"] * 10), score=0.8)
    short = candidate("short", text="Nadia", score=0.7)
    s = state(selected=[short, long, beagle()], budget_tokens=10)
    build_context(s, words, header="Memories:")
    # header 1 + beagle 6 = 7; + long 12 = 19 > 10; + short 3 = 10.
    assert [c.id for c in s.selected] == ["beagle", "short"]
    assert s.dropped == [("long", "over token budget")]
    assert s.context_tokens == 10


def test_the_reply_keeps_its_room_in_the_context_window() -> None:
    messages = [{"role": "user", "content": "a b c"}]
    overhead = TEMPLATE_TOKENS_PER_MESSAGE * 2  # the user message and the inserted system one
    other = candidate("other", text="Nadia adopted a beagle", score=0.1)
    s = state(
        messages=messages,
        selected=[beagle(), other],
        max_tokens=10,
        context_window=3 + overhead + 10 + 7,
    )
    build_context(s, words, header="Memories:")
    assert [c.id for c in s.selected] == ["beagle"]
    assert s.context_tokens + 3 + overhead + 10 <= s.context_window

    tight = state(
        messages=messages,
        selected=[beagle(), other],
        max_tokens=10,
        context_window=3 + overhead + 10 + 6,
    )
    build_context(tight, words, header="Memories:")
    assert tight.selected == []
    assert tight.dropped == [("beagle", "over token budget"), ("other", "over token budget")]
    assert tight.messages_out == messages and tight.context_tokens == 0


def test_nothing_selected_leaves_the_messages_alone() -> None:
    messages = [{"role": "user", "content": "hi"}]
    s = state(messages=messages)
    build_context(s, words)
    assert s.messages_out == messages and s.messages_out is not messages
    assert (s.context_text, s.context_tokens) == ("", 0)


TURNS = [
    {"role": "user", "content": "I bought a cello"},
    {"role": "assistant", "content": "Great choice"},
    {"role": "user", "content": "what should I practise today?"},
]


def test_earlier_turns_the_client_did_not_resend_are_added() -> None:
    s = state(recent_turns=TURNS)
    build_context(s, words)
    assert s.context_text == (f"{EARLIER_HEADER}\nuser: I bought a cello\nassistant: Great choice")
    assert s.messages_out[0] == {"role": "system", "content": s.context_text}


def test_the_newest_earlier_turns_win_the_budget() -> None:
    # header 4 + "assistant: Great choice" 3 = 7; the older turn (5 more) does not fit.
    s = state(recent_turns=TURNS, budget_tokens=7)
    build_context(s, words)
    assert s.context_text == f"{EARLIER_HEADER}\nassistant: Great choice"


def test_memories_come_before_earlier_turns() -> None:
    s = state(recent_turns=TURNS, selected=[beagle()])
    build_context(s, words, header="Memories:")
    assert s.context_text == (
        "Memories:\n- [2026-11-02] Nadia adopted a beagle\n\n"
        f"{EARLIER_HEADER}\nuser: I bought a cello\nassistant: Great choice"
    )
