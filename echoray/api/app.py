"""``make_app``: the gateway's FastAPI application over an ``OpenAIService`` (API layer).

No Ray here: the Serve gateway builds this same app with Serve-handle model clients,
and tests build it with in-process engines behind ``httpx.ASGITransport``.
"""

import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel

from echoray import __version__
from echoray.api.auth import Authenticator
from echoray.api.errors import install_error_handlers, sse_error
from echoray.api.middleware import RequestContextMiddleware
from echoray.api.routes.admin import ConsolidationControl, admin_router
from echoray.api.routes.memories import memory_router
from echoray.config import EchoRayConfig
from echoray.errors import NotFoundError
from echoray.protocol.openai import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    FeedbackRequest,
    FeedbackResponse,
    ModelCard,
    ModelList,
)
from echoray.services.chat import OpenAIService
from echoray.services.embeddings import EmbeddingsService
from echoray.services.memories import MemoryService
from echoray.services.memory_chat import MemoryChat
from echoray.services.metrics import GatewayMetrics

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def make_app(
    service: OpenAIService,
    config: EchoRayConfig,
    metrics: GatewayMetrics | None = None,
    *,
    embeddings: EmbeddingsService | None = None,
    memory: MemoryService | None = None,
    chat_memory: MemoryChat | None = None,
    consolidation: ConsolidationControl | None = None,
    echo_request_id: bool = True,
) -> FastAPI:
    """Build the HTTP app. ``metrics`` must be the registry the service reports to.
    Behind Ray Serve, set ``echo_request_id=False``: Serve's proxy already honours and
    echoes ``x-request-id`` (and passes it to us), so echoing again would duplicate it."""
    metrics = metrics or GatewayMetrics()
    authenticator = Authenticator(config.auth)
    Tenant = Annotated[str, Depends(authenticator)]

    app = FastAPI(title="echoray", version=__version__)
    app.state.chat_memory = chat_memory  # tests and shutdown wait on its background captures
    install_error_handlers(app)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=config.limits.max_body_bytes,
        metrics=metrics,
        echo_request_id=echo_request_id,
    )

    def request_id(request: Request) -> str:
        return str(request.state.request_id)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        models = await service.readiness()
        if embeddings is not None:
            models[embeddings.model_name] = await embeddings.is_ready()
        if chat_memory is not None:
            models["cognition"] = await chat_memory.is_ready()
        ready = all(models.values())
        return JSONResponse(
            {"status": "ready" if ready else "loading", "models": models},
            status_code=200 if ready else 503,
            headers=None if ready else {"retry-after": "2"},
        )

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/v1/models", response_model=ModelList)
    async def list_models(tenant: Tenant) -> ModelList:
        models = await service.list_models()
        if embeddings is not None:
            card = ModelCard(id=embeddings.model_name, metadata=await embeddings.info())
            models.data.append(card)
        return models

    @app.post("/v1/embeddings", response_model=None)
    async def create_embeddings(body: EmbeddingRequest, tenant: Tenant) -> Response:
        if embeddings is None:
            raise NotFoundError("Embeddings are disabled on this server (embeddings.enabled).")
        return _json(await embeddings.embed(body))

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(
        body: ChatCompletionRequest, request: Request, tenant: Tenant
    ) -> Response:
        rid = request_id(request)
        if body.user is not None and chat_memory is not None:
            session = request.headers.get("x-echo-session")
            if body.stream:
                return await _sse(await chat_memory.stream_chat(tenant, body, rid, session), rid)
            return _json(await chat_memory.chat(tenant, body, rid, session))
        if body.stream:
            return await _sse(service.stream_chat(body, rid), rid)
        return _json(await service.chat(body, rid))

    @app.post("/v1/feedback", response_model=FeedbackResponse)
    async def feedback(body: FeedbackRequest, tenant: Tenant) -> FeedbackResponse:
        if chat_memory is None:
            raise NotFoundError("Memory is disabled on this server (memory.enabled).")
        return await chat_memory.feedback(tenant, body)

    @app.post("/v1/completions", response_model=None)
    async def completions(body: CompletionRequest, request: Request, tenant: Tenant) -> Response:
        rid = request_id(request)
        if body.stream:
            return await _sse(service.stream_completion(body, rid), rid)
        return _json(await service.completion(body, rid))

    if memory is not None:
        app.include_router(memory_router(memory, authenticator))
    if consolidation is not None:
        app.include_router(admin_router(consolidation, authenticator))
    return app


def _json(model: BaseModel) -> JSONResponse:
    data = model.model_dump(mode="json", exclude_none=False)
    if "echo" in data and data["echo"] is None:
        del data["echo"]  # only chats with echo.trace carry it
    return JSONResponse(data)


async def _sse(chunks: AsyncIterator[BaseModel], request_id: str) -> StreamingResponse:
    """Start the stream now so request errors become HTTP errors, then stream SSE."""
    first = await anext(chunks)

    async def events() -> AsyncIterator[bytes]:
        try:
            yield _event(first)
            async for chunk in chunks:
                yield _event(chunk)
        except Exception as exc:  # after the first byte, errors travel as an SSE event
            yield sse_error(exc, request_id)
        finally:
            if isinstance(chunks, AsyncGenerator):
                await chunks.aclose()  # a disconnected client cancels its generation
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)


def _event(chunk: BaseModel) -> bytes:
    data = chunk.model_dump(mode="json")
    if data.get("usage") is None:
        data.pop("usage", None)
    if data.get("echo") is None:
        data.pop("echo", None)
    for choice in data.get("choices", ()):
        delta = choice.get("delta")
        if delta is not None:  # OpenAI sends only the delta fields that are set
            choice["delta"] = {k: v for k, v in delta.items() if v is not None}
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
