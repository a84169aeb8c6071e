"""Selective forgetting: retention R = exp(-Δt / S) (learning layer, pure).

Δt is the time since a memory was last used (written, recalled or restored). Its
stability S grows with use, importance and strength (feedback moves strength):

    S = base x (1 + a x access_count) x (1 + b x importance) x (0.25 + 0.75 x strength)

A memory whose R falls below the threshold is archived, never deleted, unless it is
pinned; ``POST /v1/memories/{id}/restore`` brings it back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from echoray.config import ConsolidationConfig
from echoray.memory.records import MemoryRecord

FORGOTTEN = "forgotten"  # the archive reason of a memory forgotten by retention


def stability_s(record: MemoryRecord, config: ConsolidationConfig) -> float:
    """S, in seconds, of one memory."""
    return (
        config.base_stability_s
        * (1 + config.access_stability * record.access_count)
        * (1 + config.importance_stability * record.importance)
        * (0.25 + 0.75 * record.strength)
    )


def retention(record: MemoryRecord, now: datetime, config: ConsolidationConfig) -> float:
    """R in (0, 1]: how likely the memory is still worth keeping at ``now``."""
    used = record.last_accessed or record.created_at
    elapsed = max(0.0, (now - used).total_seconds())
    return math.exp(-elapsed / stability_s(record, config))


def retention_curve(
    record: MemoryRecord, config: ConsolidationConfig, days: Sequence[float]
) -> list[float]:
    """R after each of ``days`` without use (for plots)."""
    s = stability_s(record, config)
    return [math.exp(-d * 86400 / s) for d in days]


def to_forget(
    records: Sequence[MemoryRecord], now: datetime, config: ConsolidationConfig
) -> list[str]:
    """Ids of the unpinned memories whose retention is below ``forget_threshold``."""
    return [
        r.id
        for r in records
        if not r.pinned and retention(r, now, config) < config.forget_threshold
    ]
