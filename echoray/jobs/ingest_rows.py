"""Rows of an ingest source as memories (jobs layer): the checks the server would make,
made per row, so one bad row is reported by its number instead of failing its batch."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from echoray.jobs.sources import Row
from echoray.protocol.ids import is_identifier

KINDS = ("episodic", "semantic", "reflection", "procedural")


@dataclass(frozen=True)
class Columns:
    text: str
    user: str | None
    id: str | None
    created_at: str | None
    session: str | None
    metadata: tuple[str, ...]

    def needed(self) -> list[str]:
        named = [self.text, self.user, self.id, self.created_at, self.session, *self.metadata]
        return [name for name in named if name]


@dataclass(frozen=True)
class Limits:
    """Client-side copies of the server's limits, so bad rows are caught per row (the
    server refuses a whole batch for one of them)."""

    max_text_chars: int = 8192
    max_metadata_bytes: int = 4096
    max_request_bytes: int = 1_000_000


@dataclass
class Rejected:
    row: int
    reason: str


def default_id(source: Path, row: Row, folder: bool) -> str:
    key = row.values["path"] if folder else str(row.number)
    digest = hashlib.sha256(f"{source.resolve()}\0{key}".encode()).hexdigest()
    return f"ing-{digest[:32]}"


def _json_value(value: Any) -> Any:
    """Arrow's Python values as JSON values for metadata."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        raise ValueError("binary values cannot be metadata")
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def parse_created_at(value: Any) -> datetime:
    """A datetime from an Arrow timestamp or date, ISO 8601 text, or epoch seconds; naive
    values are taken as UTC.

    Raises:
        ValueError: the value is none of these.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(float(value), tz=UTC)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            moment = datetime.fromtimestamp(float(text), tz=UTC)
        except ValueError:
            moment = datetime.fromisoformat(text)
    else:
        raise ValueError(f"not a date: {value!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _identifier(value: Any, what: str) -> str:
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
    if text is None or not is_identifier(text):
        raise ValueError(
            f"{what} {value!r} is not 1-128 characters of letters, digits and . _ - : @ + ="
        )
    return text


def to_memory(
    row: Row,
    columns: Columns,
    *,
    user: str | None,
    kind: str,
    source: Path,
    folder: bool,
    limits: Limits,
) -> tuple[str, dict[str, Any]]:
    """The (user, memory body) of one row.

    Raises:
        ValueError: the row cannot be a memory; the message says why.
    """
    values = row.values
    text = values.get(columns.text)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"no text in {columns.text!r} (empty, null or not UTF-8)")
    if len(text) > limits.max_text_chars:
        raise ValueError(f"text is {len(text)} characters; at most {limits.max_text_chars}")
    owner = user or _identifier(values.get(columns.user or ""), "user")
    memory: dict[str, Any] = {"text": text, "kind": kind}
    if columns.id:
        memory["id"] = _identifier(values.get(columns.id), "id")
    else:
        memory["id"] = default_id(source, row, folder)
    if columns.session and values.get(columns.session) is not None:
        memory["session"] = _identifier(values[columns.session], "session")
    if columns.created_at and values.get(columns.created_at) is not None:
        memory["created_at"] = parse_created_at(values[columns.created_at]).isoformat()
    if columns.metadata:
        metadata = {name: _json_value(values.get(name)) for name in columns.metadata}
        size = len(json.dumps(metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
        if size > limits.max_metadata_bytes:
            raise ValueError(f"metadata is {size} bytes; at most {limits.max_metadata_bytes}")
        memory["metadata"] = metadata
    return owner, memory
