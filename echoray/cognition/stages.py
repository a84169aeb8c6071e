"""The stages of ``prepare``, one named function each (cognition layer, plain Python).

Every stage takes the request's ``CognitiveState`` and its ``Run`` (what the stages share:
the config, the shards, the embedder, the request's options and what earlier stages
fetched), so each one can be called alone in a test. ``STAGES`` is their order; the
``CognitiveProcessor`` runs them with ``run_stages``, which times each.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np

from echoray.cognition.affect import AffectModel, color_query
from echoray.cognition.coherence import check_coherence
from echoray.cognition.context import build_context
from echoray.cognition.goals import align_goals
from echoray.cognition.pipeline import Stage, StageFn, with_deadline
from echoray.cognition.resonance import resonate
from echoray.cognition.state import Candidate, CognitiveState, Message, PatternMatch, take_query
from echoray.config import CognitionConfig
from echoray.embeddings import EmbeddingClient
from echoray.errors import UnprocessableEntityError
from echoray.memory.api import Shards
from echoray.memory.query import embedding_text
from echoray.memory.records import ChatRecall, Pattern
from echoray.memory.speaker_names import SpeakerNames
from echoray.protocol.openai import EchoOptions

TokenCounter = Callable[[str], int]
# A pattern counts as matched from this cosine between the query and its centroid.
PATTERN_MATCH_COSINE = 0.6
# A last user turn shorter than this is read with the user turn before it.
FOLLOW_UP_MAX_WORDS = 5


@dataclass(kw_only=True, eq=False)
class Run:
    """What one request's stages share besides the state."""

    config: CognitionConfig
    shards: Shards
    speakers: SpeakerNames
    embeddings: EmbeddingClient
    options: EchoOptions
    count_tokens: TokenCounter
    affect: Callable[[], Awaitable[AffectModel | None]]
    # filled by the stages
    recall: ChatRecall | None = None
    turn_vector: np.ndarray | None = None  # the last user turn alone (what is remembered)
    neighbour_cosines: list[float] = field(default_factory=list)

    @property
    def deadline_s(self) -> float:
        return self.config.memory_deadline_ms / 1000


async def embed(state: CognitiveState, run: Run) -> None:
    """Take the last user turn and embed it, with its follow-up context and the goals."""
    try:
        take_query(state)
    except ValueError as exc:
        raise UnprocessableEntityError(str(exc), param="messages") from None
    # Recall reads a short follow-up in the light of the turn before it; the turn itself
    # is what is remembered.
    context = contextual_query(state.messages, state.query)
    # Recall embeds the query with the user's speakers' names replaced by "they"
    # (``echoray.memory.query``): the vector then says what is asked, not who.
    speakers = None
    if run.options.memory:
        speakers = await with_deadline(
            run.speakers.of(state.tenant, state.user), run.deadline_s, state, "speakers"
        )
    search_text = embedding_text(context, speakers or [])
    extra = [search_text] if search_text != state.query else []
    embedded = await with_deadline(
        run.embeddings.embed([state.query, *extra, *state.goals]),
        run.deadline_s,
        state,
        "embedding",
    )
    if embedded is not None:
        vectors = embedded[0]
        run.turn_vector = vectors[0]
        state.query_vector = vectors[len(extra)]
        state.goal_vectors = vectors[1 + len(extra) :] if state.goals else None


async def fetch_memory(state: CognitiveState, run: Run) -> None:
    """One call to the user's shard: recalled memories, session turns, patterns."""
    if state.query_vector is None or not (run.options.memory or run.options.write):
        return
    run.recall = await with_deadline(
        run.shards.for_user(state.tenant, state.user).recall_for_chat(
            state.session,
            state.query_vector,
            state.query,
            run.config.recall_limit,
            run.config.short_term_turns,
        ),
        run.deadline_s,
        state,
        "memory",
    )


def pattern_match(state: CognitiveState, run: Run) -> None:
    if run.recall is not None and state.query_vector is not None:
        state.pattern = match_pattern(state.query_vector, run.recall.patterns)


def short_term(state: CognitiveState, run: Run) -> None:
    if run.recall is not None and run.options.memory:
        state.recent_turns = [{"role": t.role, "content": t.text} for t in run.recall.turns]


def long_term_recall(state: CognitiveState, run: Run) -> None:
    """Recalled memories become candidates; those unrelated to the query are dropped."""
    if run.recall is None or state.query_vector is None:
        return
    turn = run.turn_vector if run.turn_vector is not None else state.query_vector
    run.neighbour_cosines = [float(r.record.vector @ turn) for r in run.recall.recalled]
    if run.options.memory:
        state.candidates = candidates_from(run.recall, state.query_vector, run.config)
        for candidate in [c for c in state.candidates if c.relevance <= 0.0]:
            state.drop(candidate, "below min_relevance_cosine")
        state.candidates = [c for c in state.candidates if c.relevance > 0.0]


async def emotional_coloring(state: CognitiveState, run: Run) -> None:
    if state.query_vector is None:
        return
    model = await run.affect()
    if model is None:
        return
    color_query(state, model)
    if state.candidates:
        scores = model.score(np.stack([c.vector for c in state.candidates]))
        for candidate, (valence, arousal, dominance) in zip(state.candidates, scores, strict=True):
            candidate.valence = float(valence)
            candidate.arousal = float(arousal)
            candidate.dominance = float(dominance)


def resonance(state: CognitiveState, run: Run) -> None:
    resonate(state, run.config.weights, run.config.recency_half_life_s)


def goal_alignment(state: CognitiveState, run: Run) -> None:
    align_goals(state, run.config.goal_boost)


def coherence(state: CognitiveState, run: Run) -> None:
    check_coherence(
        state,
        duplicate_cosine=run.config.duplicate_cosine,
        conflict_cosine=run.config.conflict_cosine,
        mmr_lambda=run.config.mmr_lambda,
        limit=run.config.context_limit,
    )


def context_building(state: CognitiveState, run: Run) -> None:
    build_context(state, run.count_tokens)


RunStage = Callable[[CognitiveState, Run], Awaitable[None] | None]

# Goal alignment runs before the coherence check, whose MMR selection then sees the goal
# boost: a memory that serves a goal can win a place in the context.
STAGES: list[tuple[str, RunStage]] = [
    ("embed", embed),
    ("memory_fetch", fetch_memory),
    ("pattern_match", pattern_match),
    ("short_term", short_term),
    ("long_term_recall", long_term_recall),
    ("emotional_coloring", emotional_coloring),
    ("resonance", resonance),
    ("goal_alignment", goal_alignment),
    ("coherence", coherence),
    ("context_building", context_building),
]


def stages_for(run: Run) -> list[Stage]:
    """``STAGES`` bound to one request's ``run``, as ``run_stages`` takes them."""

    def bind(stage: RunStage) -> StageFn:
        return lambda state: stage(state, run)

    return [(name, bind(stage)) for name, stage in STAGES]


def contextual_query(messages: list[Message], query: str) -> str:
    """The text recall searches with: the last user turn, preceded by the user turn before
    it when the last is a short follow-up ("and her job?") of under
    ``FOLLOW_UP_MAX_WORDS`` words."""
    if len(query.split()) >= FOLLOW_UP_MAX_WORDS:
        return query
    users = [m.get("content", "") for m in messages if m.get("role") == "user"]
    return f"{users[-2]}\n{query}" if len(users) >= 2 and users[-2].strip() else query


def match_pattern(query: np.ndarray, patterns: list[Pattern]) -> PatternMatch | None:
    """The learned pattern closest to the query, if its cosine reaches
    ``PATTERN_MATCH_COSINE``; the confidence is that cosine times the pattern's strength."""
    best: tuple[float, Pattern] | None = None
    for pattern in patterns:
        norm = float(np.linalg.norm(pattern.centroid))
        if norm == 0.0:
            continue
        cosine = float(pattern.centroid @ query) / norm
        if best is None or cosine > best[0]:
            best = (cosine, pattern)
    if best is None or best[0] < PATTERN_MATCH_COSINE:
        return PatternMatch(None, None, 0.0) if patterns else None
    cosine, pattern = best
    return PatternMatch(pattern.id, pattern.label or None, cosine * pattern.strength)


def candidates_from(
    recall: ChatRecall, query: np.ndarray, config: CognitionConfig
) -> list[Candidate]:
    """Recalled memories as candidates. Relevance comes from the fused recall rank,
    ``(k + 1) / (k + rank)`` with ``k = relevance_rank_k`` (1 for the first, gently lower
    after, so strength, recency and importance can still reorder close ranks); a memory
    whose cosine to the query is under ``min_relevance_cosine`` gets relevance 0 (the
    caller drops it), so a user's unrelated memories stay out."""
    k = config.relevance_rank_k
    result = []
    for rank, item in enumerate(recall.recalled, start=1):
        cosine = float(item.record.vector @ query)
        relevance = (k + 1) / (k + rank) if cosine >= config.min_relevance_cosine else 0.0
        source = "associative" if item.why.link_path else "long_term"
        why = {**item.why.model_dump(exclude_none=True), "cosine": round(cosine, 4)}
        result.append(
            Candidate.from_record(item.record, relevance=relevance, source=source, why=why)
        )
    return result
