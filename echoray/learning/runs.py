"""``Run``: one consolidation run and its outcome (learning layer, data, no I/O).

The scheduler keeps runs in memory; ``run_store`` writes them to LanceDB so that the
history survives a restart of the process that holds the scheduler.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from echoray.learning.consolidation import COUNTS, STEPS
from echoray.memory.records import utc_now

RUNNING: Final = "running"
# A run whose scheduler stopped (the actor died) before it finished: what its shards did
# is unknown, and a repeated run finishes the work (the steps are idempotent).
INTERRUPTED: Final = "interrupted"
_STOPPED = "the scheduler stopped during the run"
# How a finished run can end (``ConsolidationScheduler._run`` picks one).
FINAL_STATES: Final = ("done", "partial", "failed", "skipped")


@dataclass
class Run:
    """One consolidation run over some shards."""

    run_id: str
    tenant: str | None
    reason: str
    shards: list[int]
    started_at: datetime = field(default_factory=utc_now)
    finished_at: datetime | None = None
    state: str = RUNNING  # running | done | partial | failed | skipped | interrupted
    reports: dict[int, dict[str, Any]] = field(default_factory=dict)
    compacted: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def as_dict(self) -> dict[str, Any]:
        counts = dict.fromkeys(COUNTS, 0)
        ms = dict.fromkeys(("read", *STEPS), 0.0)
        for report in self.reports.values():
            for key, value in report.get("counts", {}).items():
                counts[key] = counts.get(key, 0) + value
            for key, value in report.get("ms", {}).items():
                ms[key] = round(ms.get(key, 0.0) + value, 1)
        counts["compacted"] = self.compacted
        return {
            "run_id": self.run_id,
            "tenant": self.tenant,
            "reason": self.reason,
            "state": self.state,
            "started_at": self.started_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
            "counts": counts,
            "ms": ms,
            "shards": [self.reports[i] for i in sorted(self.reports)],
        }

    def interrupt(self) -> None:
        """Mark a run found still running by a new scheduler as interrupted; shards with
        no final report say so (``finished_at`` stays unknown)."""
        self.state = INTERRUPTED
        for index in self.shards:
            report = self.reports.get(index, {})
            if report.get("state") in (None, RUNNING):
                self.reports[index] = {"shard": index, "state": INTERRUPTED, "error": _STOPPED}
