"""Chats that name a ``user``: the cognitive pipeline around inference (plain Python).

The gateway's chat route calls ``MemoryChat`` when a request names a ``user``:

1. the request is validated as any chat (limits, model) before anything else runs;
2. ``prepare`` (the ``CognitiveProcessor``, in process or a Serve deployment) recalls and
   builds the context; if it fails or passes ``pipeline_deadline_ms`` the chat goes on
   with the client's own messages, and the trace and a metric say so;
3. inference streams as for any chat, with the prepared messages;
4. ``capture`` is scheduled in the background once the answer is complete: the response
   never waits for learning. A stream the client abandons is not captured. Feedback on
   an answer whose capture is still running, in this gateway replica or another, waits
   for it, so a client may send feedback as soon as it has the answer.

With ``echo.trace``, the answer carries the trace: a field ``echo`` of the response, or a
last chunk (no choices, an ``echo`` object) before ``[DONE]`` when streaming. Every answered
chat's trace, asked for or not, goes to ``RecentTraces`` for the operator's dashboard.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from echoray.cognition.processor import Capture, ChatTurn, Prepared, experience_id
from echoray.engines.base import GenerationRequest
from echoray.errors import EchoRayError, NotFoundError
from echoray.protocol.ids import chat_user_id, exchange_created_s
from echoray.protocol.openai import (
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    EchoOptions,
    FeedbackRequest,
    FeedbackResponse,
)
from echoray.services.chat import OpenAIService
from echoray.services.metrics import GatewayMetrics
from echoray.services.recent_traces import RecentTraces

log = logging.getLogger(__name__)


class CognitionClient(Protocol):
    """The ``CognitiveProcessor``'s methods, in process or behind a Serve handle."""

    async def prepare(self, turn: ChatTurn) -> Prepared: ...

    async def capture(self, capture: Capture, response: str, latency_ms: float) -> None: ...

    async def feedback(self, tenant: str, request: FeedbackRequest) -> FeedbackResponse: ...

    async def is_ready(self) -> bool: ...


@dataclass(frozen=True)
class _Turn:
    """One chat between its preparation and its answer."""

    started: float
    tenant: str
    user: str  # the memory user id (``chat_user_id``)
    request_id: str
    model: str
    query: str  # the last user turn, for the dashboard
    options: EchoOptions
    generation: GenerationRequest
    prepared: Prepared | None
    failure: str | None  # why the pipeline did not run, when it failed
    inference_started: float


class MemoryChat:
    """Chat completions with memory; see the module docstring."""

    def __init__(
        self,
        service: OpenAIService,
        cognition: CognitionClient,
        metrics: GatewayMetrics | None,
        *,
        deadline_s: float,
        capture_wait_s: float = 10.0,
        request_timeout_s: float = 300.0,
        traces: RecentTraces | None = None,
    ) -> None:
        self._service = service
        self._cognition = cognition
        self._metrics = metrics
        self._deadline_s = deadline_s
        self._capture_wait_s = capture_wait_s
        self._traces = traces
        # How old an exchange id can be while its chat is still answering or being recorded.
        self._recent_s = request_timeout_s + capture_wait_s
        self._background: set[asyncio.Task[None]] = set()
        # (tenant, experience id) -> its running capture, which feedback waits for
        self._captures: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def chat(
        self, tenant: str, request: ChatCompletionRequest, request_id: str, session: str | None
    ) -> ChatCompletionResponse:
        turn = await self._begin(tenant, request, request_id, session)
        response = await self._service.chat(request, request_id, turn.generation)
        text = response.choices[0].message.content if response.choices else ""
        echo = self._finish(turn, text)
        if turn.options.trace:
            response.echo = echo
        return response

    async def stream_chat(
        self, tenant: str, request: ChatCompletionRequest, request_id: str, session: str | None
    ) -> AsyncIterator[ChatCompletionChunk]:
        """Prepare now (so errors are HTTP errors), then return the chunk stream."""
        turn = await self._begin(tenant, request, request_id, session)
        stream = self._service.stream_chat(request, request_id, turn.generation)

        async def chunks() -> AsyncIterator[ChatCompletionChunk]:
            parts: list[str] = []
            last: ChatCompletionChunk | None = None
            try:
                async for chunk in stream:
                    last = chunk
                    for choice in chunk.choices:
                        if choice.delta.content:
                            parts.append(choice.delta.content)
                    yield chunk
            finally:
                await stream.aclose()  # type: ignore[attr-defined]
            echo = self._finish(turn, "".join(parts))
            if turn.options.trace and last is not None:
                yield ChatCompletionChunk(
                    id=last.id, model=last.model, created=last.created, choices=[], echo=echo
                )

        return chunks()

    async def feedback(self, tenant: str, request: FeedbackRequest) -> FeedbackResponse:
        """Rate an exchange. One still being recorded, here or by another gateway replica,
        is waited for (at most ``capture_wait_s``), so feedback sent with the answer works.

        Raises:
            NotFoundError: no such exchange of this tenant's user, after the wait.
        """
        exchange = experience_id(request.request_id)
        capture = self._captures.get((tenant, exchange))
        if capture is not None:  # recorded by this replica: wait for exactly that
            await asyncio.wait([capture], timeout=self._capture_wait_s)
        give_up = time.monotonic() + self._capture_wait_s
        delay_s = 0.05
        while True:
            try:
                response = await self._cognition.feedback(tenant, request)
            except NotFoundError:
                if not self._may_be_recording(exchange) or time.monotonic() >= give_up:
                    raise
            else:
                if self._metrics is not None:
                    self._metrics.observe_feedback(request.score)
                return response
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, 0.5)

    def _may_be_recording(self, exchange: str) -> bool:
        """Whether another replica may still be capturing ``exchange``: an id this server
        made (``new_exchange_id``) not longer ago than a request plus its capture can take."""
        created = exchange_created_s(exchange)
        return created is not None and time.time() - created < self._recent_s

    async def is_ready(self) -> bool:
        """Whether the pipeline is warm (affect axes built, tokenizers loaded)."""
        return await self._cognition.is_ready()

    async def drain(self) -> None:
        """Wait for scheduled captures (tests, shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    # --- internals ----------------------------------------------------------------------

    async def _begin(
        self, tenant: str, request: ChatCompletionRequest, request_id: str, session: str | None
    ) -> _Turn:
        """Validate as any chat (4xx before any work), then run the pipeline, or note why
        the chat goes on without it."""
        started = time.perf_counter()
        generation = self._service.chat_generation(request, request_id)
        options = _options(request, session)
        prepared, failure = await self._prepare(
            tenant, request, generation.sampling.max_tokens, options, request_id
        )
        if prepared is not None:
            generation = dataclasses.replace(generation, messages=tuple(prepared.messages))
        assert request.user is not None
        return _Turn(
            started=started,
            tenant=tenant,
            user=chat_user_id(request.user),
            request_id=request_id,
            model=request.model,
            query=_last_user_turn(request),
            options=options,
            generation=generation,
            prepared=prepared,
            failure=failure,
            inference_started=time.perf_counter(),
        )

    async def _prepare(
        self,
        tenant: str,
        request: ChatCompletionRequest,
        max_tokens: int,
        options: EchoOptions,
        request_id: str,
    ) -> tuple[Prepared | None, str | None]:
        assert request.user is not None
        if not (options.memory or options.write or options.trace):
            return None, None
        turn = ChatTurn(
            tenant=tenant,
            user=chat_user_id(request.user),
            model=request.model,
            messages=[{"role": m.role, "content": m.text()} for m in request.messages],
            max_tokens=max_tokens,
            options=options,
            request_id=request_id,
        )
        try:
            prepared = await asyncio.wait_for(self._cognition.prepare(turn), self._deadline_s)
        except EchoRayError as exc:
            if exc.status_code < 500:
                raise  # the caller's mistake (a malformed user or session): a clear 4xx
            return None, self._degrade(exc)
        except Exception as exc:  # the pipeline is down or slow: answer without memory
            return None, self._degrade(exc)
        return prepared, None

    def _degrade(self, exc: BaseException) -> str:
        reason = (
            f"cognition: timed out after {self._deadline_s * 1000:.0f} ms"
            if isinstance(exc, TimeoutError)
            else f"cognition: {type(exc).__name__}: {exc}"
        )
        log.warning("chat goes on without memory (%s)", reason)
        if self._metrics is not None:
            self._metrics.degraded.labels("cognition").inc()
        return reason

    def _finish(self, turn: _Turn, response: str) -> dict[str, Any]:
        """Time inference, schedule the capture, observe metrics, keep the trace for the
        dashboard; returns the trace."""
        echo = self._trace(turn, response)
        if self._traces is not None:
            self._traces.add(
                tenant=turn.tenant,
                user=turn.user,
                request_id=turn.request_id,
                model=turn.model,
                query=turn.query,
                answer=response,
                trace=echo,
            )
        return echo

    def _trace(self, turn: _Turn, response: str) -> dict[str, Any]:
        now = time.perf_counter()
        inference_ms = (now - turn.inference_started) * 1000
        if turn.prepared is None:  # no pipeline ran: a trace that says so
            degraded = [turn.failure] if turn.failure else []
            return {
                "memories": [],
                "degraded": degraded,
                "stages_ms": {"inference": round(inference_ms, 3)},
            }
        prepared = turn.prepared
        timings = {**prepared.timings_ms, "inference": inference_ms}
        if self._metrics is not None:
            self._metrics.observe_pipeline(timings, prepared.degraded, prepared.context_tokens)
        if prepared.capture is not None:
            latency_ms = (now - turn.started) * 1000
            task = asyncio.create_task(self._capture(prepared.capture, response, latency_ms))
            key = (turn.tenant, experience_id(prepared.request_id))
            self._background.add(task)
            self._captures[key] = task
            task.add_done_callback(lambda done: self._capture_done(key, done))
        stages = {name: round(float(ms), 3) for name, ms in timings.items()}
        return {**prepared.trace, "stages_ms": stages}

    def _capture_done(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if self._captures.get(key) is task:  # not a later chat that reused the request id
            del self._captures[key]

    async def _capture(self, capture: Capture, response: str, latency_ms: float) -> None:
        try:
            await self._cognition.capture(capture, response, latency_ms)
        except Exception:
            log.warning("experience capture failed for %s", capture.request_id, exc_info=True)
            if self._metrics is not None:
                self._metrics.degraded.labels("capture").inc()


def _last_user_turn(request: ChatCompletionRequest) -> str:
    return next((m.text() for m in reversed(request.messages) if m.role == "user"), "")


def _options(request: ChatCompletionRequest, session_header: str | None) -> EchoOptions:
    options = request.echo or EchoOptions()
    if options.session is None and session_header:
        options = options.model_copy(update={"session": session_header})
    return options
