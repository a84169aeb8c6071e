"""The metrics added for the dashboards, read back from the registry's text format."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from echoray.services.memories import MemoryService
from echoray.services.metrics import DEGRADABLE_PARTS, GatewayMetrics


def samples(metrics: GatewayMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.render().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_known_labels_start_at_zero() -> None:
    found = samples(GatewayMetrics())
    for part in DEGRADABLE_PARTS:
        assert found[("echoray_cognition_degraded_total", (("what", part),))] == 0
    assert found[("echoray_feedback_total", (("verdict", "negative"),))] == 0
    assert found[("echoray_memories_ingested_total", (("result", "existing"),))] == 0


def test_refusals_count_only_429_and_503() -> None:
    metrics = GatewayMetrics()
    metrics.observe_refusal(503, "queue_full")
    metrics.observe_refusal(503, None)
    metrics.observe_refusal(500, "engine_error")
    metrics.observe_refusal(404, "memory_not_found")
    found = samples(metrics)
    refusals = {k: v for k, v in found.items() if k[0] == "echoray_refusals_total"}
    assert refusals == {
        ("echoray_refusals_total", (("code", "queue_full"), ("status", "503"))): 1,
        ("echoray_refusals_total", (("code", "unavailable"), ("status", "503"))): 1,
    }


def test_a_shard_that_serves_from_lancedb_has_no_memory_count_and_a_silent_one_is_down() -> None:
    metrics = GatewayMetrics()
    metrics.observe_shard(0, {"memories": 5, "working_set_bytes": 1024, "pending_turns": 3})
    metrics.observe_shard(1, {"memories": 7, "working_set_bytes": 2048, "pending_turns": 0})
    metrics.observe_shard(1, {"memories": None, "working_set_bytes": 0, "pending_turns": 1})
    metrics.observe_shard(0, None)
    found = samples(metrics)
    assert found[("echoray_shard_up", (("shard", "0"),))] == 0
    assert found[("echoray_shard_memories", (("shard", "0"),))] == 5  # kept: it is slow
    assert ("echoray_shard_memories", (("shard", "1"),)) not in found
    assert found[("echoray_shard_pending_turns", (("shard", "1"),))] == 1


def test_consolidation_exports_the_last_status_and_nothing_before() -> None:
    metrics = GatewayMetrics()
    assert not any(k[0].startswith("echoray_consolidation") for k in samples(metrics))
    finished = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    metrics.consolidation.update(
        {
            "running": [{}],
            "history": [
                {"state": "failed", "finished_at": "2026-12-02T00:00:00+00:00"},
                {"state": "done", "finished_at": finished.isoformat()},
            ],
            "totals": {"promoted": 4},
            "runs_by_state": {"done": 2, "failed": 1},
            "step_seconds": {"read": 0.5},
        }
    )
    found = samples(metrics)
    assert found[("echoray_consolidation_runs_total", (("state", "failed"),))] == 1
    assert found[("echoray_consolidation_items_total", (("what", "promoted"),))] == 4
    assert found[("echoray_consolidation_step_seconds_total", (("step", "read"),))] == 0.5
    assert found[("echoray_consolidation_running", ())] == 1
    last = found[("echoray_consolidation_last_success_timestamp_seconds", ())]
    assert last == finished.timestamp()


class _Shard:
    def __init__(self, stats: dict[str, Any] | None, delay_s: float = 0) -> None:
        self._stats, self._delay_s = stats, delay_s

    async def stats(self) -> dict[str, Any]:
        await asyncio.sleep(self._delay_s)
        if self._stats is None:
            raise ConnectionError("actor died")
        return self._stats


class _Shards:
    def __init__(self, shards: list[_Shard]) -> None:
        self._shards = shards
        self.num_shards = len(shards)

    def shard(self, index: int) -> _Shard:
        return self._shards[index]


async def test_a_slow_or_dead_shard_is_down_and_does_not_hold_the_scrape() -> None:
    metrics = GatewayMetrics()
    stats = {"memories": 1, "working_set_bytes": 8, "pending_turns": 0}
    shards = _Shards([_Shard(stats), _Shard(stats, delay_s=30), _Shard(None)])
    service = MemoryService(shards, embeddings=None, config=None, metrics=metrics)  # type: ignore[arg-type]
    await asyncio.wait_for(service.observe_shards(timeout_s=0.2), 5)
    found = samples(metrics)
    up = {s: found[("echoray_shard_up", (("shard", s),))] for s in "012"}
    assert up == {"0": 1, "1": 0, "2": 0}
