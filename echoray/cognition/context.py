"""Enhanced context: the selected memories and earlier turns, fitted to the token budget
(cognition layer).

The memory section is plain text in a system message, so it works with every chat
template and every engine:

    What you remember about the user (most relevant first; dates are when it was recorded):
    - [2026-11-02] Nadia adopted a beagle
    - [2026-10-30] Nadia is learning the cello

    Earlier in this conversation:
    user: ...
    assistant: ...

Two limits hold at once: the section's own tokens stay within ``state.budget_tokens``, and
the whole prompt leaves the reply its room: section + every message's content +
``state.max_tokens`` + template overhead <= ``state.context_window``. The overhead is
``TEMPLATE_TOKENS_PER_MESSAGE`` per message, counting the system message that may be
inserted: chat templates wrap each message in role markers and separators (ChatML spends
about 5 tokens per message), and the "\\n\\n" joining the section to an existing system
message fits in it too.

Memories are added most relevant first; one that does not fit is dropped with "over token
budget" and a shorter, later one may still fit. Earlier turns of the session that the client
did not send again are added after the memories, newest first while they fit, and shown in
order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from echoray.cognition.state import Candidate, CognitiveState, Message, by_score

CountTokens = Callable[[str], int]

DEFAULT_HEADER = (
    "What you remember about the user (most relevant first; dates are when it was recorded):"
)
EARLIER_HEADER = "Earlier in this conversation:"
TEMPLATE_TOKENS_PER_MESSAGE = 8


def build_context(
    state: CognitiveState, count_tokens: CountTokens, *, header: str = DEFAULT_HEADER
) -> None:
    """Stage: write ``context_text``, ``context_tokens`` and ``messages_out``.

    ``state.selected`` keeps only the memories that made it into the section (by score);
    the others are recorded in ``state.dropped``. With nothing to add, ``messages_out`` is
    a copy of the messages and ``context_tokens`` is 0.
    """
    message_tokens = sum(count_tokens(m.get("content", "")) for m in state.messages)
    overhead = TEMPLATE_TOKENS_PER_MESSAGE * (len(state.messages) + 1)
    room = min(
        state.budget_tokens,
        state.context_window - state.max_tokens - message_tokens - overhead,
    )

    def fits(memory_lines: list[str], turn_lines: list[str]) -> bool:
        return count_tokens(_section(header, memory_lines, turn_lines)) <= room

    kept: list[Candidate] = []
    memory_lines: list[str] = []
    for candidate in sorted(state.selected, key=by_score):
        line = f"- [{_day(candidate.created_at)}] {_one_line(candidate.text)}"
        if fits([*memory_lines, line], []):
            memory_lines.append(line)
            kept.append(candidate)
        else:
            state.drop(candidate, "over token budget")
    state.selected = kept

    turn_lines: list[str] = []
    for turn in reversed(_earlier_turns(state.recent_turns, state.messages)):
        line = f"{turn.get('role', 'user')}: {_one_line(turn.get('content', ''))}"
        # Stop at the first that does not fit: a gap would misrepresent the conversation.
        if not fits(memory_lines, [line, *turn_lines]):
            break
        turn_lines.insert(0, line)

    if not memory_lines and not turn_lines:
        state.context_text, state.context_tokens = "", 0
        state.messages_out = [dict(m) for m in state.messages]
        return
    section = _section(header, memory_lines, turn_lines)
    state.context_text = section
    state.context_tokens = count_tokens(section)
    state.messages_out = _with_system(state.messages, section)


def _section(header: str, memory_lines: list[str], turn_lines: list[str]) -> str:
    blocks = []
    if memory_lines:
        blocks.append("\n".join([header, *memory_lines]))
    if turn_lines:
        blocks.append("\n".join([EARLIER_HEADER, *turn_lines]))
    return "\n\n".join(blocks)


def _earlier_turns(recent: list[Message], messages: list[Message]) -> list[Message]:
    # Turns the client sent again are in the prompt already; compared by content, verbatim.
    sent = {m.get("content", "").strip() for m in messages}
    return [t for t in recent if t.get("content", "").strip() not in sent]


def _with_system(messages: list[Message], section: str) -> list[Message]:
    out = [dict(m) for m in messages]
    if out and out[0].get("role") == "system":
        existing = out[0].get("content", "")
        out[0]["content"] = f"{existing}\n\n{section}" if existing else section
    else:
        out.insert(0, {"role": "system", "content": section})
    return out


def _day(moment: datetime) -> str:
    # Stored times are UTC; a naive one is taken as UTC, as the memory store does.
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.date().isoformat()


def _one_line(text: str) -> str:
    # A memory with line breaks would break the list apart.
    return " ".join(text.split())
