"""``ConsolidationCollector``: consolidation's counters on the gateway's ``/metrics``.

Runs happen in the scheduler (the Consolidator actor under Ray, another process), which
counts them; each scrape reads its ``status()`` and this collector exports the last one.
Every gateway replica thus reports the same values, whichever one a scrape reaches. The
counters restart from 0 with the scheduler, as Prometheus counters may.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class ConsolidationCollector(Collector):
    """Exports the last consolidation status read; nothing before the first."""

    def __init__(self) -> None:
        self._status: dict[str, Any] | None = None

    def update(self, status: dict[str, Any]) -> None:
        self._status = status

    def describe(self) -> Iterator[Metric]:
        return iter(_families())

    def collect(self) -> Iterator[Metric]:
        status = self._status
        if status is None:
            return iter(())
        runs, steps, items, running, last_done = _families()
        for state, count in status.get("runs_by_state", {}).items():
            runs.add_metric([state], count)
        for step, seconds in status.get("step_seconds", {}).items():
            steps.add_metric([step], seconds)
        for what, count in status.get("totals", {}).items():
            items.add_metric([what], count)
        running.add_metric([], len(status.get("running", ())))
        families = [runs, steps, items, running]
        finished = _last_done_at(status.get("history", ()))
        if finished is not None:
            last_done.add_metric([], finished)
            families.append(last_done)
        return iter(families)


def _families() -> tuple[
    CounterMetricFamily,
    CounterMetricFamily,
    CounterMetricFamily,
    GaugeMetricFamily,
    GaugeMetricFamily,
]:
    return (
        CounterMetricFamily(
            "echoray_consolidation_runs",
            "Consolidation runs finished since the scheduler started, by final state",
            labels=["state"],
        ),
        CounterMetricFamily(
            "echoray_consolidation_step_seconds",
            "Seconds consolidation spent in each step (summed over shards), since the "
            "scheduler started",
            labels=["step"],
        ),
        CounterMetricFamily(
            "echoray_consolidation_items",
            "What consolidation did since the scheduler started: memories promoted, "
            "merged, archived, reflections and patterns written, table rows compacted",
            labels=["what"],
        ),
        GaugeMetricFamily("echoray_consolidation_running", "Consolidation runs working now"),
        GaugeMetricFamily(
            "echoray_consolidation_last_success_timestamp_seconds",
            "When the newest run that finished as done ended (Unix time)",
        ),
    )


def _last_done_at(history: Any) -> float | None:
    """The end of the newest ``done`` run in the history (newest first)."""
    for run in history:
        if run.get("state") == "done" and run.get("finished_at"):
            return datetime.fromisoformat(run["finished_at"]).timestamp()
    return None
