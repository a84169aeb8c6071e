"""Size limits that come from the configuration (memory layer): batch sizes, text length,
metadata bytes and result limits. The store checks them on every write, so every path
(the API, chat capture, consolidation, the ingest job) meets the same limits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from echoray.config import MemoryConfig
from echoray.errors import PayloadTooLargeError, UnprocessableEntityError
from echoray.memory.records import MemoryRecord
from echoray.memory.safe import canonical_json


def metadata_bytes(metadata: dict[str, Any]) -> int:
    """Size of ``metadata`` as compact UTF-8 JSON, the measure ``max_metadata_bytes`` uses."""
    return len(canonical_json(metadata).encode())


def check_batch(count: int, limits: MemoryConfig, what: str = "memories") -> None:
    """Refuse an empty or oversized batch.

    Raises:
        UnprocessableEntityError: ``count`` is 0.
        PayloadTooLargeError: ``count`` is over ``limits.max_batch``.
    """
    if count == 0:
        raise UnprocessableEntityError(f"no {what} given", param=what)
    if count > limits.max_batch:
        raise PayloadTooLargeError(
            f"{count} {what} in one request; at most {limits.max_batch}", param=what
        )


def check_limits(records: Sequence[MemoryRecord], limits: MemoryConfig) -> None:
    """Refuse a batch that breaks the configured size limits.

    Raises:
        UnprocessableEntityError: the batch is empty.
        PayloadTooLargeError: too many records, a text longer than ``max_text_chars`` or
            metadata larger than ``max_metadata_bytes``; ``param`` names the field.
    """
    check_batch(len(records), limits)
    for index, record in enumerate(records):
        if len(record.text) > limits.max_text_chars:
            raise PayloadTooLargeError(
                f"memory text is {len(record.text)} characters; at most {limits.max_text_chars}",
                param=f"memories.{index}.text",
            )
        size = metadata_bytes(record.metadata)
        if size > limits.max_metadata_bytes:
            raise PayloadTooLargeError(
                f"metadata is {size} bytes; at most {limits.max_metadata_bytes}",
                param=f"memories.{index}.metadata",
            )


def check_limit(limit: int, limits: MemoryConfig) -> int:
    """Return ``limit`` if it is between 1 and ``limits.max_limit``.

    Raises:
        UnprocessableEntityError: ``limit`` is out of range (``param`` is ``limit``).
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= limits.max_limit:
        raise UnprocessableEntityError(
            f"limit must be an integer from 1 to {limits.max_limit}", param="limit"
        )
    return limit
