"""``RunStore``: consolidation's run history and schedule in LanceDB (learning layer,
storage).

Two small tables next to the memory tables at ``storage.uri``:

- ``consolidation_runs``: one row per run (the fields of ``Run``; the per-shard reports
  as JSON), the newest ``keep`` finished runs and every unfinished one;
- ``consolidation_schedule``: when the interval last started a run (``interval``).

One scheduler owns them (the Consolidator actor of the layout, or an in-process one).
Writes return once LanceDB has committed them, so what the scheduler reports after a
write survives a restart. lancedb is imported in the constructor, never at module import.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Final

import pyarrow as pa

from echoray.errors import ConfigError
from echoray.learning.runs import RUNNING, Run
from echoray.memory.safe import sql_string
from echoray.memory.schemas import TIMESTAMP

RUNS: Final = "consolidation_runs"
SCHEDULE: Final = "consolidation_schedule"
INTERVAL: Final = "interval"  # the schedule row of the interval's last start

RUNS_SCHEMA: Final = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("tenant", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("state", pa.string(), nullable=False),
        pa.field("shards", pa.list_(pa.int64()), nullable=False),
        pa.field("started_at", TIMESTAMP, nullable=False),
        pa.field("finished_at", TIMESTAMP),
        pa.field("compacted", pa.int64(), nullable=False),
        pa.field("reports", pa.string(), nullable=False),  # JSON list, one per shard
    ]
)
SCHEDULE_SCHEMA: Final = pa.schema(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("at", TIMESTAMP, nullable=False),
    ]
)


def _row(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "tenant": run.tenant,
        "reason": run.reason,
        "state": run.state,
        "shards": list(run.shards),
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "compacted": run.compacted,
        "reports": json.dumps([run.reports[i] for i in sorted(run.reports)]),
    }


def _run(row: dict[str, Any]) -> Run:
    reports = json.loads(row["reports"])
    return Run(
        run_id=row["run_id"],
        tenant=row["tenant"],
        reason=row["reason"],
        shards=list(row["shards"]),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        state=row["state"],
        reports={int(report["shard"]): report for report in reports},
        compacted=row["compacted"],
    )


def _order(row: dict[str, Any]) -> datetime:
    """Runs are listed in the order they finished; an unfinished one where it started."""
    moment: datetime = row["finished_at"] or row["started_at"]
    return moment


class RunStore:
    """The ``consolidation_runs`` and ``consolidation_schedule`` tables."""

    def __init__(
        self, uri: str, *, keep: int, storage_options: dict[str, str] | None = None
    ) -> None:
        """Open (creating when missing) both tables at ``uri``.

        Args:
            uri: the LanceDB location of the memory tables (``storage.uri``).
            keep: finished runs kept (``consolidation.history``); older ones are deleted.
            storage_options: object-store options passed to LanceDB unchanged.

        Raises:
            ConfigError: a table exists with another schema.
        """
        import lancedb

        self.uri = uri
        self.keep = keep
        self._db = lancedb.connect(uri, storage_options=storage_options)
        self._runs = self._open(RUNS, RUNS_SCHEMA)
        self._schedule = self._open(SCHEDULE, SCHEDULE_SCHEMA)

    def _open(self, name: str, schema: pa.Schema) -> Any:
        try:
            return self._db.create_table(name, schema=schema, exist_ok=True)
        except ValueError as exc:  # the table exists with another schema
            raise ConfigError(
                f"{self.uri}: table {name!r} does not have the schema this echoray writes; "
                "move it away or use another storage.uri"
            ) from exc

    # --- runs -------------------------------------------------------------------------

    def save_run(self, run: Run) -> None:
        """Insert or replace the run (one commit), then delete the finished runs beyond
        the newest ``keep``."""
        data = pa.Table.from_pylist([_row(run)], schema=RUNS_SCHEMA)
        (
            self._runs.merge_insert("run_id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(data)
        )
        if run.state != RUNNING and self._runs.count_rows() > self.keep:
            self._trim()

    def load_runs(self) -> list[Run]:
        """Every stored run, in the order they finished (an unfinished one, still
        ``running`` here, where it started)."""
        rows = self._runs.to_arrow().to_pylist()
        return [_run(row) for row in sorted(rows, key=_order)]

    def _trim(self) -> None:
        columns = ["run_id", "state", "started_at", "finished_at"]
        rows = self._runs.to_arrow().select(columns).to_pylist()
        finished = sorted((r for r in rows if r["state"] != RUNNING), key=_order)
        old = [r["run_id"] for r in finished[: max(0, len(finished) - self.keep)]]
        if old:
            self._runs.delete(f"run_id IN ({', '.join(sql_string(i) for i in old)})")

    # --- the schedule -------------------------------------------------------------------

    def interval_started(self) -> datetime | None:
        """When the interval last started a run (or the schedule first began)."""
        rows = self._schedule.to_arrow().to_pylist()
        found: datetime | None = next((r["at"] for r in rows if r["name"] == INTERVAL), None)
        return found

    def save_interval_started(self, at: datetime) -> None:
        data = pa.Table.from_pylist([{"name": INTERVAL, "at": at}], schema=SCHEDULE_SCHEMA)
        (
            self._schedule.merge_insert("name")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(data)
        )

    def compact(self, keep_versions_s: float) -> None:
        """Fold the small commits of each run into few files; drop versions older than
        ``keep_versions_s``."""
        keep = timedelta(seconds=keep_versions_s)
        for table in (self._runs, self._schedule):
            table.optimize(cleanup_older_than=keep)
