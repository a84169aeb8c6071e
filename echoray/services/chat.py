"""The OpenAI-compatible serving logic: wire requests -> engine requests -> wire responses.

Plain Python over ``ModelClient``s (an ``EngineHost`` in process, a Serve handle wrapper
under Ray), so it is tested without a cluster. Streaming methods are async generators of
wire chunks; errors raised before the first chunk are typed ``EchoRayError``s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from echoray.config import LimitsConfig
from echoray.engines.base import GenerationChunk, GenerationRequest, ModelClient, SamplingParams
from echoray.errors import GenerationTimeoutError, ModelNotFoundError, UnprocessableEntityError
from echoray.protocol.openai import (
    AssistantMessage,
    ChatChoice,
    ChatChunkChoice,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    CompletionChoice,
    CompletionRequest,
    CompletionResponse,
    DeltaMessage,
    ModelCard,
    ModelList,
    Usage,
)
from echoray.services.metrics import GatewayMetrics

log = logging.getLogger(__name__)
_STATS_TIMEOUT_S = 2.0  # a scrape must not hang on a busy or lost model


class OpenAIService:
    """Chat and text completions over a set of named models."""

    def __init__(
        self,
        models: dict[str, ModelClient],
        limits: LimitsConfig,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self._models = models
        self._limits = limits
        self._metrics = metrics

    # --- models -------------------------------------------------------------------------

    async def list_models(self) -> ModelList:
        return ModelList(
            data=[ModelCard(id=name, metadata=await c.info()) for name, c in self._models.items()]
        )

    def model_names(self) -> list[str]:
        return list(self._models)

    async def model_info(self, model: str) -> dict[str, Any]:
        return await self._client(model).info()

    async def readiness(self) -> dict[str, bool]:
        return {name: await client.is_ready() for name, client in self._models.items()}

    async def observe_engines(self) -> None:
        """Refresh the engine gauges (``/metrics`` calls this on each scrape). Under Serve
        one replica of each model answers; Serve's own ``ray_serve_*`` metrics sum them."""
        if self._metrics is None:
            return
        for name, client in self._models.items():
            try:
                stats = await asyncio.wait_for(client.stats(), _STATS_TIMEOUT_S)
            except Exception:
                log.debug("no engine stats from model %s", name, exc_info=True)
                continue
            self._metrics.observe_engine(name, stats)

    def _client(self, model: str) -> ModelClient:
        client = self._models.get(model)
        if client is None:
            raise ModelNotFoundError(
                f"The model {model!r} does not exist. Available: {sorted(self._models)}",
                param="model",
            )
        return client

    # --- requests -----------------------------------------------------------------------

    def _sampling(self, request: ChatCompletionRequest | CompletionRequest) -> SamplingParams:
        max_tokens = request.requested_max_tokens() or self._limits.default_max_tokens
        if max_tokens > self._limits.max_tokens:
            raise UnprocessableEntityError(
                f"max_tokens is {max_tokens}; this server allows at most {self._limits.max_tokens}",
                param="max_tokens",
            )
        stops = request.stop_list()
        if len(stops) > self._limits.max_stop_sequences:
            raise UnprocessableEntityError(
                f"at most {self._limits.max_stop_sequences} stop sequences are allowed",
                param="stop",
            )
        return SamplingParams(
            max_tokens=max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            top_k=request.top_k,
            seed=request.seed,
            stop=tuple(stops),
            presence_penalty=request.presence_penalty,
            frequency_penalty=request.frequency_penalty,
        )

    def chat_generation(self, request: ChatCompletionRequest, request_id: str) -> GenerationRequest:
        """Validate a chat request against the limits and turn it into an engine request."""
        self._client(request.model)
        if len(request.messages) > self._limits.max_messages:
            raise UnprocessableEntityError(
                f"{len(request.messages)} messages; at most {self._limits.max_messages} allowed",
                param="messages",
            )
        messages = tuple({"role": m.role, "content": m.text()} for m in request.messages)
        return GenerationRequest(request_id, self._sampling(request), messages=messages)

    async def chat(
        self,
        request: ChatCompletionRequest,
        request_id: str,
        generation: GenerationRequest | None = None,
    ) -> ChatCompletionResponse:
        generation = generation or self.chat_generation(request, request_id)
        text, last = await self._collect(request.model, generation)
        return ChatCompletionResponse(
            id=f"chatcmpl-{request_id}",
            model=request.model,
            choices=[
                ChatChoice(message=AssistantMessage(content=text), finish_reason=last.finish_reason)
            ],
            usage=_usage(last),
        )

    async def stream_chat(
        self,
        request: ChatCompletionRequest,
        request_id: str,
        generation: GenerationRequest | None = None,
    ) -> AsyncIterator[ChatCompletionChunk]:
        generation = generation or self.chat_generation(request, request_id)
        chunk_id, model = f"chatcmpl-{request_id}", request.model
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        created = int(time.time())
        stream = self._generate(model, generation)
        first = await anext(stream)  # raise request errors before any byte is sent
        yield ChatCompletionChunk(
            id=chunk_id,
            model=model,
            created=created,
            choices=[ChatChunkChoice(delta=DeltaMessage(role="assistant", content=""))],
        )
        last = first
        async for chunk in _prepend(first, stream):
            last = chunk
            if chunk.text:
                yield ChatCompletionChunk(
                    id=chunk_id,
                    model=model,
                    created=created,
                    choices=[ChatChunkChoice(delta=DeltaMessage(content=chunk.text))],
                )
        yield ChatCompletionChunk(
            id=chunk_id,
            model=model,
            created=created,
            choices=[ChatChunkChoice(delta=DeltaMessage(), finish_reason=last.finish_reason)],
        )
        if include_usage:
            yield ChatCompletionChunk(
                id=chunk_id, model=model, created=created, choices=[], usage=_usage(last)
            )

    def completion_generation(
        self, request: CompletionRequest, request_id: str
    ) -> GenerationRequest:
        self._client(request.model)
        return GenerationRequest(request_id, self._sampling(request), prompt=request.prompt)

    async def completion(self, request: CompletionRequest, request_id: str) -> CompletionResponse:
        generation = self.completion_generation(request, request_id)
        text, last = await self._collect(request.model, generation)
        return CompletionResponse(
            id=f"cmpl-{request_id}",
            model=request.model,
            choices=[CompletionChoice(text=text, finish_reason=last.finish_reason)],
            usage=_usage(last),
        )

    async def stream_completion(
        self, request: CompletionRequest, request_id: str
    ) -> AsyncIterator[CompletionResponse]:
        generation = self.completion_generation(request, request_id)
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        created = int(time.time())
        last = None
        async for chunk in self._generate(request.model, generation):
            last = chunk
            if chunk.text or chunk.finish_reason:
                yield CompletionResponse(
                    id=f"cmpl-{request_id}",
                    model=request.model,
                    created=created,
                    choices=[CompletionChoice(text=chunk.text, finish_reason=chunk.finish_reason)],
                )
        if include_usage and last is not None:
            yield CompletionResponse(
                id=f"cmpl-{request_id}",
                model=request.model,
                created=created,
                choices=[],
                usage=_usage(last),
            )

    # --- engine stream with metrics -----------------------------------------------------

    async def _collect(
        self, model: str, generation: GenerationRequest
    ) -> tuple[str, GenerationChunk]:
        parts: list[str] = []
        last: GenerationChunk | None = None
        async for chunk in self._generate(model, generation):
            parts.append(chunk.text)
            last = chunk
        assert last is not None, "engines always send a final chunk"
        return "".join(parts), last

    async def _generate(
        self, model: str, generation: GenerationRequest
    ) -> AsyncIterator[GenerationChunk]:
        client = self._client(model)
        started = time.perf_counter()
        first_token_at: float | None = None
        last: GenerationChunk | None = None
        async for chunk in _within(client.generate(generation), self._limits.generation_deadline_s):
            if first_token_at is None and chunk.completion_tokens > 0:
                first_token_at = time.perf_counter()
            last = chunk
            yield chunk
        if self._metrics is not None and last is not None:
            self._metrics.observe_generation(
                model,
                ttft_s=(first_token_at or time.perf_counter()) - started,
                duration_s=time.perf_counter() - started,
                prompt_tokens=last.prompt_tokens,
                completion_tokens=last.completion_tokens,
            )


async def _within(
    chunks: AsyncIterator[GenerationChunk], timeout_s: float
) -> AsyncIterator[GenerationChunk]:
    """``chunks`` until ``timeout_s`` has passed since the first was asked for; then the
    engine's stream is closed (which frees its slot) and ``GenerationTimeoutError``
    raised. Each wait is bounded apart, so a stalled engine is cut as surely as a slow one."""
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                chunk = await asyncio.wait_for(anext(chunks), deadline - time.monotonic())
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise GenerationTimeoutError(
                    f"the generation ran past {timeout_s:g} s (limits.generation_timeout_s) "
                    "and was stopped; ask for fewer tokens or retry"
                ) from None
            yield chunk
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


async def _prepend(
    first: GenerationChunk, rest: AsyncIterator[GenerationChunk]
) -> AsyncIterator[GenerationChunk]:
    yield first
    async for chunk in rest:
        yield chunk


def _usage(chunk: GenerationChunk) -> Usage:
    return Usage(
        prompt_tokens=chunk.prompt_tokens,
        completion_tokens=chunk.completion_tokens,
        total_tokens=chunk.prompt_tokens + chunk.completion_tokens,
    )
