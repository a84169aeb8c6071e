"""Normalise LoCoMo evidence ids, which real files write in many malformed ways.

Canonical form is ``D<session>:<turn>`` with plain integers (``D1:3``). Seen in the wild:
spaces (``"D 1:3"``, ``"D1: 3"``), several ids in one string (``"D1:3; D2:4"``,
``"D1:3 D2:4"``, ``"D1:3,D2:4"``), lowercase, stray colons (``"D:1:3"``), leading zeros and
trailing punctuation. Anything else is returned as unparsed so the benchmark can count it.
Pure Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# One dialogue id, tolerant of case, inner spaces, a stray colon after D, and leading zeros.
_DIALOGUE_ID = re.compile(r"d\s*:?\s*(\d+)\s*:\s*(\d+)", re.IGNORECASE)
# What may sit between or around ids without being a parse failure.
_SEPARATORS = re.compile(r"[\s;,.:|/&+\-()\[\]{}'\"!?]+")
_ID_LISTS = re.compile(r"[;,]+")


def canonical_id(session: int, turn: int) -> str:
    """Return the canonical dialogue id ``D<session>:<turn>``."""
    return f"D{session}:{turn}"


def normalize_evidence(raw: Iterable[object]) -> tuple[list[str], list[str]]:
    """Split and canonicalise raw evidence entries.

    Args:
        raw: the question's ``evidence`` list as found in the file; entries that are not
            strings are reported unparsed.

    Returns:
        ``(ids, unparsed)``: canonical ids in first-seen order without duplicates, and the
        stripped pieces of text (or ``repr`` of non-strings) that held no id or held junk
        next to one. Whether an id exists in the conversation is checked by the loader.
    """
    ids: list[str] = []
    unparsed: list[str] = []
    for entry in raw:
        if not isinstance(entry, str):
            unparsed.append(repr(entry))
            continue
        for piece in _ID_LISTS.split(entry):
            piece = piece.strip()
            if not piece:
                continue
            found = list(_DIALOGUE_ID.finditer(piece))
            for match in found:
                identifier = canonical_id(int(match.group(1)), int(match.group(2)))
                if identifier not in ids:
                    ids.append(identifier)
            leftover = _SEPARATORS.sub("", _DIALOGUE_ID.sub(" ", piece))
            if leftover:
                unparsed.append(piece)
    return ids, unparsed
