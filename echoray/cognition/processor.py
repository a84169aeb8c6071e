"""``CognitiveProcessor``: the memory side of a chat, stage by stage (cognition layer).

``prepare`` runs before inference: embed the last user turn, fetch from the user's shard
(one call: recalled memories, the session's recent turns, learned patterns), match a
pattern, turn memories into candidates, colour them, rank them (resonance, goals), keep a
coherent set and fit it into the token budget. ``capture`` runs after the answer, off the
response path: the experience, the session turns and the user's turn as an episodic
memory. ``feedback`` moves the strength of the memories an answer used.

Plain Python over ``Shards`` and an ``EmbeddingClient``: the Serve deployment
(``echoray.serve``) and the in-process app wrap the same object. Memory failures never
fail a chat: the embedding and the shard call run under ``memory_deadline_ms``; past it, or
on an error, the request goes on without memory and ``state.degraded`` says why.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from echoray.cognition.affect import DEFAULT_ANCHORS, AffectModel, color_query
from echoray.cognition.coherence import check_coherence
from echoray.cognition.context import build_context
from echoray.cognition.goals import align_goals
from echoray.cognition.importance import importance
from echoray.cognition.pipeline import run_stages, with_deadline
from echoray.cognition.resonance import resonate
from echoray.cognition.state import Candidate, CognitiveState, Message, PatternMatch, take_query
from echoray.config import CognitionConfig
from echoray.embeddings import EmbeddingClient
from echoray.errors import UnprocessableEntityError
from echoray.memory.api import Shards
from echoray.memory.hashing import shard_for
from echoray.memory.records import ChatRecall, Experience, MemoryRecord, Pattern, TurnRole
from echoray.memory.safe import IDENTIFIER_PATTERN, validate_identifier
from echoray.protocol.openai import EchoOptions, FeedbackRequest, FeedbackResponse

log = logging.getLogger(__name__)

TokenCounter = Callable[[str], int]
# A pattern counts as matched from this cosine between the query and its centroid.
PATTERN_MATCH_COSINE = 0.6
# A last user turn shorter than this is read with the user turn before it.
FOLLOW_UP_MAX_WORDS = 5


@dataclass(frozen=True)
class ModelLimits:
    """What context building needs of the model that will read the context."""

    count_tokens: TokenCounter
    context_window: int


@dataclass(kw_only=True, eq=False)
class Prepared:
    """A prepared chat: the messages for the model and what ``capture`` needs later."""

    state: CognitiveState
    options: EchoOptions
    request_id: str
    model: str
    turn_vector: np.ndarray | None = None  # the last user turn alone (what is remembered)
    neighbour_cosines: list[float] = field(default_factory=list)

    @property
    def messages(self) -> list[Message]:
        return self.state.messages_out or self.state.messages


def experience_id(request_id: str) -> str:
    """The experiences row id of a request: the request id itself, or (for ids that are
    not identifiers, such as a client's free-form x-request-id) a digest of it. The chat
    response id ``chatcmpl-<request id>`` is accepted too."""
    request_id = request_id.removeprefix("chatcmpl-")
    if IDENTIFIER_PATTERN.fullmatch(request_id):
        return request_id
    return "req-" + hashlib.sha256(request_id.encode()).hexdigest()[:32]


class CognitiveProcessor:
    """The cognitive pipeline over one deployment's memory, embedder and model limits."""

    def __init__(
        self,
        config: CognitionConfig,
        shards: Shards,
        embeddings: EmbeddingClient,
        models: Mapping[str, Callable[[], ModelLimits]],
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self._shards = shards
        self._embeddings = embeddings
        self._model_loaders = dict(models)
        self._models: dict[str, ModelLimits] = {}
        self._affect: AffectModel | None = None
        self._affect_failed = False
        self._now = now

    # --- before inference -------------------------------------------------------------

    async def prepare(
        self,
        tenant: str,
        user: str,
        model: str,
        messages: list[Message],
        max_tokens: int,
        options: EchoOptions,
        request_id: str,
    ) -> Prepared:
        """Run the stages up to context building; see the module docstring.

        Raises:
            UnprocessableEntityError: a malformed user or session id, or no user turn.
        """
        validate_identifier(user, "user")
        if options.session is not None:
            validate_identifier(options.session, "echo.session")
        limits = self._limits(model)
        state = CognitiveState(
            tenant=tenant,
            user=user,
            session=options.session,
            messages=[dict(m) for m in messages],
            goals=list(options.goals),
            budget_tokens=(
                self.config.default_budget_tokens
                if options.budget_tokens is None
                else options.budget_tokens
            ),
            max_tokens=max_tokens,
            context_window=limits.context_window,
            now=self._now(),
        )
        prepared = Prepared(state=state, options=options, request_id=request_id, model=model)
        recall: ChatRecall | None = None

        async def embed(state: CognitiveState) -> None:
            try:
                take_query(state)
            except ValueError as exc:
                raise UnprocessableEntityError(str(exc), param="messages") from None
            # Recall reads a short follow-up in the light of the turn before it; the turn
            # itself is what is remembered.
            context = contextual_query(state.messages, state.query)
            extra = [context] if context != state.query else []
            embedded = await with_deadline(
                self._embeddings.embed([state.query, *extra, *state.goals]),
                self._deadline_s,
                state,
                "embedding",
            )
            if embedded is not None:
                vectors = embedded[0]
                prepared.turn_vector = vectors[0]
                state.query_vector = vectors[len(extra)]
                state.goal_vectors = vectors[1 + len(extra) :] if state.goals else None

        async def fetch(state: CognitiveState) -> None:
            nonlocal recall
            if state.query_vector is None or not (options.memory or options.write):
                return
            recall = await with_deadline(
                self._shards.for_user(tenant, user).recall_for_chat(
                    state.session,
                    state.query_vector,
                    state.query,
                    self.config.recall_limit,
                    self.config.short_term_turns,
                ),
                self._deadline_s,
                state,
                "memory",
            )

        def pattern_match(state: CognitiveState) -> None:
            if recall is not None and state.query_vector is not None:
                state.pattern = match_pattern(state.query_vector, recall.patterns)

        def short_term(state: CognitiveState) -> None:
            if recall is not None and options.memory:
                state.recent_turns = [{"role": t.role, "content": t.text} for t in recall.turns]

        def long_term(state: CognitiveState) -> None:
            if recall is None or state.query_vector is None:
                return
            turn = prepared.turn_vector if prepared.turn_vector is not None else state.query_vector
            prepared.neighbour_cosines = [float(r.record.vector @ turn) for r in recall.recalled]
            if options.memory:
                state.candidates = candidates_from(recall, state.query_vector, self.config)
                for candidate in [c for c in state.candidates if c.relevance <= 0.0]:
                    state.drop(candidate, "below min_relevance_cosine")
                state.candidates = [c for c in state.candidates if c.relevance > 0.0]

        async def emotional_coloring(state: CognitiveState) -> None:
            if state.query_vector is None:
                return
            model = await self._affect_model()
            if model is None:
                return
            color_query(state, model)
            if state.candidates:
                scores = model.score(np.stack([c.vector for c in state.candidates]))
                for candidate, (valence, arousal, dominance) in zip(
                    state.candidates, scores, strict=True
                ):
                    candidate.valence = float(valence)
                    candidate.arousal = float(arousal)
                    candidate.dominance = float(dominance)

        def resonance(state: CognitiveState) -> None:
            resonate(state, self.config.weights, self.config.recency_half_life_s)

        def goal_alignment(state: CognitiveState) -> None:
            align_goals(state, self.config.goal_boost)

        def coherence(state: CognitiveState) -> None:
            check_coherence(
                state,
                duplicate_cosine=self.config.duplicate_cosine,
                conflict_cosine=self.config.conflict_cosine,
                mmr_lambda=self.config.mmr_lambda,
                limit=self.config.context_limit,
            )

        def context(state: CognitiveState) -> None:
            build_context(state, limits.count_tokens)

        # Goal alignment runs before the coherence check, whose MMR selection then sees
        # the goal boost: a memory that serves a goal can win a place in the context.
        await run_stages(
            state,
            [
                ("embed", embed),
                ("memory_fetch", fetch),
                ("pattern_match", pattern_match),
                ("short_term", short_term),
                ("long_term_recall", long_term),
                ("emotional_coloring", emotional_coloring),
                ("resonance", resonance),
                ("goal_alignment", goal_alignment),
                ("coherence", coherence),
                ("context_building", context),
            ],
        )
        return prepared

    # --- after inference ----------------------------------------------------------------

    async def capture(self, prepared: Prepared, response: str, latency_ms: float) -> None:
        """Learn from the exchange (call it off the response path). Does nothing when the
        request set ``write: false`` or the query could not be embedded."""
        state = prepared.state
        if not prepared.options.write or prepared.turn_vector is None:
            return
        answer = response.strip()  # post-processing: what is remembered of the answer
        experience = Experience.build(
            id=experience_id(prepared.request_id),
            tenant=state.tenant,
            user=state.user,
            session=state.session,
            created_at=state.now,
            query=state.query,
            memory_ids=[c.id for c in state.selected],
            response=answer,
            model=prepared.model,
            latency_ms=max(0.0, latency_ms),
            metadata={"degraded": state.degraded} if state.degraded else {},
        )
        affect = state.query_affect
        memory = MemoryRecord.build(
            id="turn-" + experience.id.removeprefix("req-")[:100],
            tenant=state.tenant,
            user=state.user,
            session=state.session,
            kind="episodic",
            text=state.query,
            vector=prepared.turn_vector,
            created_at=state.now,
            importance=importance(prepared.turn_vector, prepared.neighbour_cosines, state.query),
            **(affect.as_dict() if affect is not None else {}),
            sources=[experience.id],
        )
        turns: list[tuple[TurnRole, str]] = [("user", state.query)]
        if answer:
            turns.append(("assistant", answer))
        await self._shards.for_user(state.tenant, state.user).capture(
            experience,
            memory,
            turns,
            [c.id for c in state.selected],
        )

    async def feedback(self, tenant: str, request: FeedbackRequest) -> FeedbackResponse:
        """Record feedback on an answer and reinforce (or weaken) the memories it used.

        Raises:
            NotFoundError: no exchange with that request id for this tenant.
        """
        exchange = experience_id(request.request_id)
        # Experiences live in one table every shard reads: any shard can find the user.
        lookup = self._shards.shard(shard_for(tenant, tenant, self._shards.num_shards))
        found = await lookup.find_experience(tenant, exchange)
        _, changed = await self._shards.for_user(tenant, found.user).apply_feedback(
            exchange,
            request.score,
            request.comment,
            self.config.feedback_step,
            self._now(),
        )
        return FeedbackResponse(
            request_id=request.request_id, feedback=request.score, memories_updated=changed
        )

    # --- helpers -----------------------------------------------------------------------

    @property
    def _deadline_s(self) -> float:
        return self.config.memory_deadline_ms / 1000

    def _limits(self, model: str) -> ModelLimits:
        if model not in self._models:
            self._models[model] = self._model_loaders[model]()
        return self._models[model]

    async def _affect_model(self) -> AffectModel | None:
        """The affect axes, built from the embedder on first use; None (no colouring) for
        an embedder whose anchors do not separate."""
        if self._affect is None and not self._affect_failed:
            texts = [text for axis in DEFAULT_ANCHORS for text in (*axis.positive, *axis.negative)]
            vectors, _ = await self._embeddings.embed(texts)
            table = dict(zip(texts, vectors, strict=True))
            try:
                self._affect = AffectModel.from_embed(
                    lambda wanted: np.stack([table[t] for t in wanted])
                )
            except ValueError:
                log.warning("no emotional colouring with this embedder", exc_info=True)
                self._affect_failed = True
        return self._affect

    async def is_ready(self) -> bool:
        """In process the pipeline warms up on first use; the Serve deployment warms up at
        start and answers for itself."""
        return True

    async def warm_up(self) -> None:
        """Build the affect axes, run one embedding through the whole path and load every
        model's tokenizer now, not on a request."""
        await self._affect_model()
        await self._embeddings.embed(["warm up"])
        for model in self._model_loaders:
            await asyncio.to_thread(self._limits, model)


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
