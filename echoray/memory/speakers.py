"""Who said a memory: the speaker as a field of its own (memory layer, pure logic).

Transcripts write a turn as ``"Name: what was said"``. Left in the text, the name is a word
of every turn its speaker wrote: it dominates BM25 for any question that names the speaker
and says nothing about which turn answers it. So the speaker is split off: the body alone is
indexed, and the speaker is a field that a question naming someone can match.

The speaker is ``metadata["speaker"]`` when the writer gives it, otherwise a leading prefix
of one to three capitalised words and a colon. A memory without either has no speaker.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# One to three capitalised words (letters, digits, ' . -), then ": " and the turn.
_PREFIX = re.compile(r"\s*([^\W\d_][\w'.-]{0,30}(?: [^\W\d_][\w'.-]{0,30}){0,2}):\s+(?=\S)")
SPEAKER_KEY = "speaker"


def split_speaker(text: str, metadata: Mapping[str, Any] | None = None) -> tuple[str | None, str]:
    """``(speaker, body)`` of a memory's text; ``(None, text)`` when it names no speaker."""
    given = (metadata or {}).get(SPEAKER_KEY)
    match = _PREFIX.match(text)
    prefix = match.group(1) if match and match.group(1)[0].isupper() else None
    if isinstance(given, str) and given.strip():
        speaker = given.strip()
        body = text[match.end() :] if prefix is not None and prefix == speaker and match else text
        return speaker, body
    if prefix is None or match is None:
        return None, text
    return prefix, text[match.end() :]


def name_forms(speaker: str) -> tuple[str, ...]:
    """The lower-cased ways a question may name a speaker: the full name and, for a name of
    several words, the first word ("Ana Lopez" -> "ana lopez", "ana")."""
    full = " ".join(speaker.lower().split())
    first = full.split(" ", 1)[0]
    return (full,) if first == full else (full, first)
