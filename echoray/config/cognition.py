"""The cognitive pipeline run on chats that name a user."""

from __future__ import annotations

from pydantic import Field, model_validator

from echoray.config.base import DeploymentOptionsConfig, Strict


class ResonanceWeightsConfig(Strict):
    """How much each component of a recalled memory counts in its resonance score.

    The score is the weighted sum of components that each lie in [0, 1]; the defaults sum
    to 1, so a score stays in [0, 1] before the goal boost is added.
    """

    relevance: float = Field(0.5, ge=0, description="Retrieval relevance to the query.")
    recency: float = Field(0.15, ge=0, description="Half-life decay since last use.")
    importance: float = Field(0.15, ge=0, description="Importance given at write time.")
    affect: float = Field(0.05, ge=0, description="Emotional congruence with the query.")
    strength: float = Field(0.15, ge=0, description="Memory strength (feedback, forgetting).")

    @model_validator(mode="after")
    def _some_weight(self) -> ResonanceWeightsConfig:
        if self.relevance + self.recency + self.importance + self.affect + self.strength <= 0:
            raise ValueError("at least one resonance weight must be positive")
        return self


class CognitionConfig(Strict):
    """The cognitive pipeline: how recalled memories are ranked, filtered and fitted."""

    enabled: bool = Field(
        True, description="Run the pipeline on chats that name a `user` (needs memory.enabled)."
    )
    recall_limit: int = Field(20, ge=1, description="Candidate memories fetched per request.")
    min_relevance_cosine: float = Field(
        0.15,
        ge=-1,
        le=1,
        description="Recalled memories less similar to the query than this stay out of context.",
    )
    relevance_rank_k: float = Field(
        10.0,
        gt=0,
        description="Relevance of the memory recalled at rank r is (k + 1) / (k + r).",
    )
    context_limit: int = Field(8, ge=0, description="Most memories put in the context.")
    default_budget_tokens: int = Field(
        512, ge=0, description="Token budget of the memory section when a request sets none."
    )
    memory_deadline_ms: float = Field(
        300.0,
        gt=0,
        description="Longest recall may take; past it the request goes on without memory.",
    )
    pipeline_deadline_ms: float = Field(
        2000.0,
        gt=0,
        description=(
            "Longest the whole pipeline may take before inference; past it (or if it "
            "fails) the chat is answered without memory."
        ),
    )
    weights: ResonanceWeightsConfig = Field(
        default_factory=ResonanceWeightsConfig, description="Resonance component weights."
    )
    recency_half_life_s: float = Field(
        7 * 86400.0, gt=0, description="Seconds after which the recency component halves."
    )
    duplicate_cosine: float = Field(
        0.95, ge=-1, le=1, description="Cosine at or above which two memories are duplicates."
    )
    conflict_cosine: float = Field(
        0.8,
        ge=-1,
        le=1,
        description="Cosine at or above which two memories may conflict (the older yields).",
    )
    mmr_lambda: float = Field(
        0.7, ge=0, le=1, description="MMR trade-off: 1 ranks by score only, 0 by diversity only."
    )
    goal_boost: float = Field(
        0.2, ge=0, description="Score added per unit of cosine to the closest goal."
    )
    short_term_turns: int = Field(
        6, ge=0, description="Recent session turns offered to the context."
    )
    feedback_step: float = Field(
        0.5,
        ge=0,
        le=1,
        description=(
            "How far one feedback signal moves a memory's strength (score x step); at 0.5 "
            "a -1 moves a memory about two places down among close matches."
        ),
    )
    deployment: DeploymentOptionsConfig = Field(
        default_factory=lambda: DeploymentOptionsConfig(num_cpus=0.25, max_ongoing_requests=256),
        description="Ray Serve options of the CognitiveProcessor deployment.",
    )

    @model_validator(mode="after")
    def _conflict_below_duplicate(self) -> CognitionConfig:
        if self.conflict_cosine > self.duplicate_cosine:
            raise ValueError("cognition.conflict_cosine must be <= duplicate_cosine")
        return self
