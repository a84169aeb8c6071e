"""Memory shards, recall and memory limits."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat

from echoray.config.base import Strict


class MemoryConfig(Strict):
    """The memory layer: shards, the RAM working set, recall and write limits."""

    enabled: bool = Field(True, description="Serve /v1/memories (needs embeddings.enabled).")

    num_shards: int = Field(
        2, ge=1, le=1024, description="MemoryShard actors; (tenant, user) is hashed to one."
    )
    ray_resources: dict[str, PositiveFloat] = Field(
        default_factory=dict,
        description=(
            "Custom Ray resources each shard actor and each consolidation task asks for, so "
            "memory runs only on nodes started with them (`ray start --resources`). A shard "
            "whose node is lost restarts on another such node."
        ),
    )
    working_set_max_rows: int = Field(
        2_000_000,
        ge=1,
        description=(
            "Rows one shard keeps in RAM for exact search (2M x 384 float16 is about 1.4 GiB "
            "of vectors); a larger shard serves from a LanceDB vector index instead."
        ),
    )
    working_set_dtype: Literal["float32", "float16"] = Field(
        "float16",
        description=(
            "Element type of the working-set matrix. float16 halves RAM and the bytes each "
            "search reads (scored with torch, then the top rescored exactly in float32); "
            "float32 keeps the embedder's exact vectors."
        ),
    )
    max_text_chars: int = Field(8192, ge=1, description="Longest memory text, in characters.")
    max_batch: int = Field(512, ge=1, description="Most memories written in one request.")
    max_limit: int = Field(100, ge=1, description="Largest `limit` a search or list may ask.")
    max_metadata_bytes: int = Field(
        4096, ge=2, description="Largest metadata object, as compact UTF-8 JSON."
    )
    rrf_k: int = Field(
        60,
        ge=1,
        description=(
            "Reciprocal-rank fusion constant k, used beyond the RAM budget (LanceDB's "
            "indexes give ranks, not comparable scores)."
        ),
    )
    lexical_weight: float = Field(
        0.5,
        ge=0,
        description=(
            "Weight of the standardised BM25 score against the standardised cosine (1.0) in "
            "the fused score."
        ),
    )
    bm25_k1: float = Field(1.2, gt=0, description="BM25 term-frequency saturation k1.")
    bm25_b: float = Field(
        0.5, ge=0, le=1, description="BM25 length normalisation b (turns are short)."
    )
    speaker_boost: float = Field(
        1.0,
        ge=0,
        description=(
            "Added to memories said by a speaker the query names (when it names some of the "
            "user's speakers, not all)."
        ),
    )
    time_boost: float = Field(
        0.5, ge=0, description="Added to memories that say when, for a query that asks when."
    )
    period_boost: float = Field(
        1.0,
        ge=0,
        description="Added to memories written in the period a query names ('in May 2023').",
    )
    period_slack_days: float = Field(
        14.0, ge=0, description="Memories this long after a named period still count in it."
    )
    previous_turn_lift: float = Field(
        0.5,
        ge=0,
        le=1,
        description=(
            "A memory gains this share of how much the turn before it in its session "
            "outscores it (an answer follows its question)."
        ),
    )
    session_lift: float = Field(
        0.1,
        ge=0,
        description="Times the mean of a session's two best scores, added to its memories.",
    )
    short_term_turns: int = Field(
        20, ge=1, le=10_000, description="Recent turns kept per session (short-term memory)."
    )
    link_temporal_window_s: float = Field(
        300.0, ge=0, description="Memories of one session written this close in time are linked."
    )
    link_neighbour_threshold: float = Field(
        0.8, ge=-1, le=1, description="Cosine at or above which a new memory links to a neighbour."
    )
    link_neighbour_top_k: int = Field(
        5, ge=0, description="Nearest neighbours considered for links at write time."
    )
    association_hops: int = Field(
        2, ge=0, le=2, description="Hops associative recall spreads over links (0 turns it off)."
    )
    association_decay: float = Field(
        0.5, gt=0, le=1, description="Activation kept per hop (times the link weight)."
    )
    association_min_activation: float = Field(
        0.05, ge=0, description="Activation below which spreading stops."
    )
    association_max_added: int = Field(
        0,
        ge=0,
        description=(
            "Most linked memories associative recall adds to one result (0: off). Off by "
            "default: with today's link rules (same session, near neighbours) it lowered "
            "recall@10 on real conversations (LoCoMo dev 0.807 -> 0.782), which the session "
            "and previous-turn lifts already serve."
        ),
    )
    group_commit_window_ms: float = Field(
        5.0, ge=0, description="How long a write waits for others to share its LanceDB commit."
    )
    group_commit_max_batch: int = Field(
        512, ge=1, description="Most memories one group commit appends."
    )
