"""``CognitiveProcessor``: the memory side of a chat (cognition layer).

``prepare`` runs before inference: the stages of ``cognition.stages`` (embed the last user
turn, fetch from the user's shard in one call, match a pattern, turn memories into
candidates, colour them, rank them, keep a coherent set and fit it into the token budget).
It returns ``Prepared``: the messages for the model, the trace, and the small ``Capture``
that learning needs, nothing more (under Serve this crosses a process boundary twice).
``capture`` runs after the answer, off the response path: the experience, the session
turns and the user's turn as an episodic memory. ``feedback`` moves the strength of the
memories an answer used.

Plain Python over ``Shards`` and an ``EmbeddingClient``: the Serve deployment
(``echoray.serve``) and the in-process app wrap the same object. Memory failures never
fail a chat: the embedding and the shard call run under ``memory_deadline_ms``; past it, or
on an error, the request goes on without memory and the trace's ``degraded`` says why.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from echoray.cognition.affect import DEFAULT_ANCHORS, AffectModel
from echoray.cognition.importance import importance
from echoray.cognition.pipeline import run_stages
from echoray.cognition.stages import Run, TokenCounter, stages_for
from echoray.cognition.state import Affect, CognitiveState, Message
from echoray.cognition.trace import trace
from echoray.config import CognitionConfig
from echoray.embeddings import EmbeddingClient
from echoray.errors import NotFoundError
from echoray.memory.api import Shards
from echoray.memory.hashing import shard_for
from echoray.memory.records import Experience, MemoryRecord, TurnRole
from echoray.memory.speaker_names import SpeakerNames
from echoray.protocol.ids import chat_user_id, is_identifier, validate_identifier
from echoray.protocol.openai import EchoOptions, FeedbackRequest, FeedbackResponse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelLimits:
    """What context building needs of the model that will read the context."""

    count_tokens: TokenCounter
    context_window: int


@dataclass(frozen=True)
class ChatTurn:
    """One chat that names a user, as the gateway hands it to the pipeline."""

    tenant: str
    user: str
    model: str
    messages: list[Message]
    max_tokens: int
    options: EchoOptions
    request_id: str


@dataclass(frozen=True, eq=False)
class Capture:
    """What ``capture`` needs of a prepared chat to learn from it afterwards."""

    tenant: str
    user: str
    session: str | None
    request_id: str
    model: str
    query: str
    now: datetime
    turn_vector: np.ndarray
    used: list[str]  # ids of the memories put into the context
    neighbour_cosines: list[float]
    query_affect: Affect | None
    degraded: list[str]


@dataclass(kw_only=True, eq=False)
class Prepared:
    """A prepared chat: the messages for the model, its trace and what learning needs."""

    messages: list[Message]
    trace: dict[str, Any]  # the ``echo`` object, before inference
    timings_ms: dict[str, float]
    degraded: list[str]
    context_tokens: int
    capture: Capture | None = None  # None: nothing to learn (write off, no embedding)
    request_id: str = ""


def experience_id(request_id: str) -> str:
    """The experiences row id of a request: the request id itself, or (for ids that are
    not identifiers, such as a client's free-form x-request-id) a digest of it. The chat
    response id ``chatcmpl-<request id>`` is accepted too."""
    request_id = request_id.removeprefix("chatcmpl-")
    if is_identifier(request_id):
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
        self._speakers = SpeakerNames(shards)
        self._embeddings = embeddings
        self._model_loaders = dict(models)
        self._models: dict[str, ModelLimits] = {}
        self._affect: AffectModel | None = None
        self._affect_failed = False
        self._now = now

    # --- before inference -------------------------------------------------------------

    async def prepare(self, turn: ChatTurn) -> Prepared:
        """Run the stages up to context building; see the module docstring.

        Raises:
            UnprocessableEntityError: a malformed user or session id, or no user turn.
        """
        options = turn.options
        validate_identifier(turn.user, "user")
        if options.session is not None:
            validate_identifier(options.session, "echo.session")
        limits = self._limits(turn.model)
        state = CognitiveState(
            tenant=turn.tenant,
            user=turn.user,
            session=options.session,
            messages=[dict(m) for m in turn.messages],
            goals=list(options.goals),
            budget_tokens=(
                self.config.default_budget_tokens
                if options.budget_tokens is None
                else options.budget_tokens
            ),
            max_tokens=turn.max_tokens,
            context_window=limits.context_window,
            now=self._now(),
        )
        run = Run(
            config=self.config,
            shards=self._shards,
            speakers=self._speakers,
            embeddings=self._embeddings,
            options=options,
            count_tokens=limits.count_tokens,
            affect=self._affect_model,
        )
        await run_stages(state, stages_for(run))
        capture = None
        if options.write and run.turn_vector is not None:
            capture = Capture(
                tenant=state.tenant,
                user=state.user,
                session=state.session,
                request_id=turn.request_id,
                model=turn.model,
                query=state.query,
                now=state.now,
                turn_vector=run.turn_vector,
                used=[c.id for c in state.selected],
                neighbour_cosines=run.neighbour_cosines,
                query_affect=state.query_affect,
                degraded=list(state.degraded),
            )
        return Prepared(
            messages=state.messages_out or state.messages,
            trace=trace(state),
            timings_ms=dict(state.timings_ms),
            degraded=list(state.degraded),
            context_tokens=state.context_tokens,
            capture=capture,
            request_id=turn.request_id,
        )

    # --- after inference ----------------------------------------------------------------

    async def capture(self, capture: Capture, response: str, latency_ms: float) -> None:
        """Learn from the exchange (call it off the response path)."""
        answer = response.strip()  # post-processing: what is remembered of the answer
        experience = Experience.build(
            id=experience_id(capture.request_id),
            tenant=capture.tenant,
            user=capture.user,
            session=capture.session,
            created_at=capture.now,
            query=capture.query,
            memory_ids=capture.used,
            response=answer,
            model=capture.model,
            latency_ms=max(0.0, latency_ms),
            metadata={"degraded": capture.degraded} if capture.degraded else {},
        )
        affect = capture.query_affect
        memory = MemoryRecord.build(
            id="turn-" + experience.id.removeprefix("req-")[:100],
            tenant=capture.tenant,
            user=capture.user,
            session=capture.session,
            kind="episodic",
            text=capture.query,
            vector=capture.turn_vector,
            created_at=capture.now,
            importance=importance(capture.turn_vector, capture.neighbour_cosines, capture.query),
            **(affect.as_dict() if affect is not None else {}),
            sources=[experience.id],
        )
        turns: list[tuple[TurnRole, str]] = [("user", capture.query)]
        if answer:
            turns.append(("assistant", answer))
        shard = self._shards.for_user(capture.tenant, capture.user)
        await shard.capture(experience, memory, turns, capture.used)

    async def feedback(self, tenant: str, request: FeedbackRequest) -> FeedbackResponse:
        """Record feedback on an answer and reinforce (or weaken) the memories it used.

        Raises:
            NotFoundError: no exchange with that request id for this tenant and user.
        """
        exchange = experience_id(request.request_id)
        # Experiences live in one table every shard reads: any shard can find the user.
        lookup = self._shards.shard(shard_for(tenant, tenant, self._shards.num_shards))
        found = await lookup.find_experience(tenant, exchange)
        if found.user != chat_user_id(request.user):
            # Another user's exchange reads as none at all: its existence is not theirs.
            raise NotFoundError(
                f"no chat exchange with request id {request.request_id!r} is recorded for "
                "this user",
                param="request_id",
            )
        _, changed = await self._shards.for_user(tenant, found.user).apply_feedback(
            exchange, request.score, request.comment, self.config.feedback_step, self._now()
        )
        return FeedbackResponse(
            request_id=request.request_id, feedback=request.score, memories_updated=changed
        )

    # --- helpers -----------------------------------------------------------------------

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
