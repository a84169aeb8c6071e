"""Background consolidation and selective forgetting."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from echoray.config.base import Strict

PromotedRole = Literal["user", "assistant"]
_PROMOTED_ROLES: tuple[PromotedRole, ...] = ("user", "assistant")


class ConsolidationConfig(Strict):
    """Background consolidation: promote, merge, reflect, learn patterns, forget, compact.

    It never runs on the request path: the Consolidator actor runs one Ray task per shard
    on ``interval_s``, when a shard's short-term memory passes ``short_term_threshold``
    new turns, or when an admin asks (``POST /v1/admin/consolidate``)."""

    enabled: bool = Field(
        True, description="Run on the interval and threshold (admin runs work either way)."
    )
    interval_s: float = Field(3600, gt=0, description="Seconds between scheduled runs.")
    short_term_threshold: int = Field(
        200, ge=1, description="New session turns on one shard that start a run of it."
    )
    poll_s: float = Field(10, gt=0, description="How often shards are asked for new turns.")
    workers: int = Field(2, ge=1, description="Shard tasks run at once.")
    task_num_cpus: float = Field(0.5, ge=0, description="CPUs reserved per shard task.")
    pause_between_users_s: float = Field(
        0.0, ge=0, description="Pause after each user, so a long run yields the cores."
    )
    promote_roles: list[PromotedRole] = Field(
        default_factory=lambda: list(_PROMOTED_ROLES),
        description="Session turns of these roles become episodic memories.",
    )
    duplicate_cosine: float = Field(
        0.95, gt=0, le=1, description="Memories of one kind at least this close are merged."
    )
    reflection_cosine: float = Field(
        0.6, gt=0, le=1, description="Episodic memories this close to a cluster join it."
    )
    reflection_min_memories: int = Field(
        3, ge=2, description="Smallest cluster that gets a reflection."
    )
    reflection_sentences: int = Field(
        3, ge=1, le=10, description="Sentences in an extractive reflection."
    )
    summarize: Literal["extractive", "model"] = Field(
        "extractive",
        description="Reflections from the most central sentences, or written by a model.",
    )
    summarize_model: str | None = Field(
        None, description="The model that writes reflections (default: the first model)."
    )
    pattern_cosine: float = Field(
        0.7, gt=0, le=1, description="A request this close to a pattern's centroid joins it."
    )
    max_patterns: int = Field(32, ge=1, description="Most patterns kept per user.")
    max_experiences: int = Field(
        5000, ge=1, description="Most recent experiences of a user that patterns learn from."
    )
    forget_threshold: float = Field(
        0.05, ge=0, lt=1, description="Memories whose retention R falls below are archived."
    )
    base_stability_s: float = Field(
        30 * 86400, gt=0, description="Stability S of a memory never used, of importance 0."
    )
    access_stability: float = Field(
        1.0, ge=0, description="S grows by this factor per access (S x (1 + a x accesses))."
    )
    importance_stability: float = Field(
        2.0, ge=0, description="S grows with importance (S x (1 + b x importance))."
    )
    compact: bool = Field(True, description="Compact the LanceDB tables after each run.")
    keep_versions_s: float = Field(
        7 * 86400,
        ge=60,
        description=(
            "Table versions newer than this survive compaction (readers in other processes "
            "may still be on one)."
        ),
    )
    history: int = Field(
        100,
        ge=1,
        description=(
            "Finished runs kept in the status and in LanceDB (table consolidation_runs, "
            "so they survive a restart)."
        ),
    )
