"""Load LoCoMo-format conversations as per-sample memories and scoped questions.

A LoCoMo file is a JSON list of samples. A sample's ``conversation`` holds ``speaker_a``,
``speaker_b``, sessions ``session_<n>`` (lists of turns ``{"speaker", "dia_id", "text"}``)
and their dates ``session_<n>_date_time`` (e.g. ``"1:56 pm on 8 May, 2023"``); its ``qa``
list holds ``{"question", "answer" | "adversarial_answer", "evidence", "category"}``.
Every turn becomes a memory ``"SPEAKER: text"`` dated by its session, with
``" [shares <blip_caption>]"`` appended when the turn shares an image. Extra keys found in
real files (``sample_id``, ``event_summary``, ``observation``, ``session_summary``…) are
ignored. Pure Python.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from echoray.evaluation.evidence import normalize_evidence

ADVERSARIAL_CATEGORY = 5
CATEGORY_NAMES = {
    1: "multi-hop",
    2: "temporal",
    3: "open-domain",
    4: "single-hop",
    5: "adversarial",
}

_SESSION_KEY = re.compile(r"session_(\d+)")
_TIME = re.compile(r"\b(\d{1,2})[:.](\d{2})(?:\s*([ap])\.?\s*m\b\.?)?", re.IGNORECASE)
_DATE_FORMATS = ("%d %B %Y", "%d %b %Y", "%B %d %Y", "%b %d %Y", "%Y-%m-%d", "%d/%m/%Y")
# Seconds between consecutive turns of one session. The files give one date per session, and
# the evaluation protocol dates every turn by it, so by default turns share their date.
TURN_SPACING_S = 0.0
# Sessions without a readable date are placed this far apart, from UNDATED_EPOCH.
UNDATED_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
UNDATED_SESSION_GAP = timedelta(days=1)


@dataclass(frozen=True)
class Memory:
    """One stored memory: a dialogue turn of a sample, identified by its dialogue id."""

    id: str
    text: str
    created_at: datetime | None
    session: int
    speaker: str


@dataclass(frozen=True)
class Question:
    """One question scoped to a sample, with its evidence split by usability.

    ``evidence`` holds canonical ids that exist in the conversation; ``unparsed`` the raw
    pieces that held no id; ``missing`` ids that parsed but name no turn of the conversation.
    """

    text: str
    answer: str | None
    category: int | None
    evidence: tuple[str, ...]
    unparsed: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def is_adversarial(self) -> bool:
        """True for category 5, which headline figures leave out."""
        return self.category == ADVERSARIAL_CATEGORY


@dataclass
class Sample:
    """One conversation: its memories (in dialogue order) and the questions about it."""

    sample_id: str
    speaker_a: str
    speaker_b: str
    memories: list[Memory] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    undated_sessions: int = 0
    skipped_turns: int = 0


def parse_session_date(text: object) -> datetime | None:
    """Parse a LoCoMo session date leniently; None when it cannot be read.

    Accepts ``"1:56 pm on 8 May, 2023"`` and variants: optional time (``10.05am``), full or
    short month names before or after the day, ordinal suffixes, ISO dates. The result is
    naive: the files carry no timezone.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    hour, minute = 0, 0
    time_match = _TIME.search(text)
    if time_match:
        hour, minute = int(time_match.group(1)), int(time_match.group(2))
        meridiem = (time_match.group(3) or "").lower()
        if meridiem:  # 12-hour clock: 12 am is 0 h, 12 pm is 12 h
            hour = hour % 12 + (12 if meridiem == "p" else 0)
        text = text[: time_match.start()] + " " + text[time_match.end() :]
    cleaned = re.sub(r"\b(on|at)\b", " ", text, flags=re.IGNORECASE)
    cleaned = re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", cleaned)
    cleaned = " ".join(cleaned.replace(",", " ").split())
    for date_format in _DATE_FORMATS:
        try:
            day = datetime.strptime(cleaned, date_format)
        except ValueError:
            continue
        if not (0 <= hour < 24 and 0 <= minute < 60):
            return day
        return day.replace(hour=hour, minute=minute)
    return None


def _session_numbers(conversation: dict[str, Any]) -> list[int]:
    numbers = []
    for key, value in conversation.items():
        match = _SESSION_KEY.fullmatch(key)
        if match and isinstance(value, list):
            numbers.append(int(match.group(1)))
    return sorted(numbers)


def _memories(conversation: dict[str, Any]) -> tuple[list[Memory], int, int]:
    memories: list[Memory] = []
    undated = skipped = 0
    for number in _session_numbers(conversation):
        created_at = parse_session_date(conversation.get(f"session_{number}_date_time"))
        undated += created_at is None
        for turn in conversation[f"session_{number}"]:
            if not isinstance(turn, dict):
                skipped += 1
                continue
            ids, _ = normalize_evidence([turn.get("dia_id")])
            text = turn.get("text")
            if len(ids) != 1 or not isinstance(text, str):
                skipped += 1
                continue
            speaker = str(turn.get("speaker") or "unknown")
            caption = turn.get("blip_caption")
            shares = f" [shares {caption}]" if isinstance(caption, str) and caption else ""
            memories.append(
                Memory(ids[0], f"{speaker}: {text}{shares}", created_at, number, speaker)
            )
    return memories, undated, skipped


def _category(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _question(qa: dict[str, Any], known_ids: set[str]) -> Question | None:
    text = qa.get("question")
    if not isinstance(text, str) or not text.strip():
        return None
    answer = qa.get("answer", qa.get("adversarial_answer"))
    raw_evidence = qa.get("evidence") or []
    if isinstance(raw_evidence, str):
        raw_evidence = [raw_evidence]
    ids, unparsed = normalize_evidence(raw_evidence if isinstance(raw_evidence, list) else [])
    return Question(
        text=text.strip(),
        answer=None if answer is None else str(answer),
        category=_category(qa.get("category")),
        evidence=tuple(identifier for identifier in ids if identifier in known_ids),
        unparsed=tuple(unparsed),
        missing=tuple(identifier for identifier in ids if identifier not in known_ids),
    )


def parse_sample(raw: dict[str, Any], index: int) -> Sample:
    """Turn one raw LoCoMo sample into memories and questions; never raises on extra keys."""
    found = raw.get("conversation")
    conversation: dict[str, Any] = found if isinstance(found, dict) else {}
    memories, undated, skipped = _memories(conversation)
    known_ids = {memory.id for memory in memories}
    questions = []
    for qa in raw.get("qa") or []:
        question = _question(qa, known_ids) if isinstance(qa, dict) else None
        if question is not None:
            questions.append(question)
    return Sample(
        sample_id=str(raw.get("sample_id") or f"sample-{index}"),
        speaker_a=str(conversation.get("speaker_a") or ""),
        speaker_b=str(conversation.get("speaker_b") or ""),
        memories=memories,
        questions=questions,
        undated_sessions=undated,
        skipped_turns=skipped,
    )


def parse_locomo(data: object) -> list[Sample]:
    """Parse a decoded LoCoMo JSON document (a list of samples).

    Raises:
        ValueError: if the document is not a JSON list.
    """
    if not isinstance(data, list):
        raise ValueError("a LoCoMo file must hold a JSON list of samples")
    return [parse_sample(raw, index) for index, raw in enumerate(data) if isinstance(raw, dict)]


def load_locomo(path: Path) -> list[Sample]:
    """Read and parse a LoCoMo-format JSON file."""
    return parse_locomo(json.loads(Path(path).read_text(encoding="utf-8")))


def session_times(memories: Sequence[Memory], spacing_s: float = TURN_SPACING_S) -> list[datetime]:
    """``created_at`` of each memory: its session's date plus ``spacing_s`` per earlier turn
    of the same session (an undated session counts days from ``UNDATED_EPOCH``)."""
    seen: dict[int, int] = {}
    times = []
    for memory in memories:
        position = seen.get(memory.session, 0)
        seen[memory.session] = position + 1
        start = memory.created_at or (UNDATED_EPOCH + memory.session * UNDATED_SESSION_GAP)
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        times.append(start + timedelta(seconds=spacing_s * position))
    return times
