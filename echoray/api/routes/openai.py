"""OpenAI's endpoints (API layer): chat and text completions, embeddings, models, and
echoray's feedback on a chat."""

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel

from echoray.api.errors import sse_error
from echoray.errors import NotFoundError
from echoray.protocol.ids import new_exchange_id
from echoray.protocol.openai import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    FeedbackRequest,
    FeedbackResponse,
    ModelCard,
    ModelList,
)
from echoray.services.wiring import Services

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def openai_router(
    services: Services, authenticate: Callable[..., Coroutine[Any, Any, str]]
) -> APIRouter:
    Tenant = Annotated[str, Depends(authenticate)]
    router = APIRouter(prefix="/v1", tags=["openai"])
    chat, embeddings, memory_chat = services.chat, services.embeddings, services.memory_chat

    @router.get("/models", response_model=ModelList)
    async def list_models(tenant: Tenant) -> ModelList:
        models = await chat.list_models()
        if embeddings is not None:
            card = ModelCard(id=embeddings.model_name, metadata=await embeddings.info())
            models.data.append(card)
        return models

    @router.post("/embeddings", response_model=None)
    async def create_embeddings(body: EmbeddingRequest, tenant: Tenant) -> Response:
        if embeddings is None:
            raise NotFoundError("Embeddings are disabled on this server (embeddings.enabled).")
        return _json(await embeddings.embed(body))

    @router.post("/chat/completions", response_model=None)
    async def chat_completions(
        body: ChatCompletionRequest, request: Request, tenant: Tenant
    ) -> Response:
        rid, exchange = _request_id(request), new_exchange_id()
        if body.user is not None and memory_chat is not None:
            session = request.headers.get("x-echo-session")
            if body.stream:
                stream = await memory_chat.stream_chat(tenant, body, exchange, session)
                return await _sse(stream, rid)
            return _json(await memory_chat.chat(tenant, body, exchange, session))
        if body.stream:
            return await _sse(chat.stream_chat(body, exchange), rid)
        return _json(await chat.chat(body, exchange))

    @router.post("/feedback", response_model=FeedbackResponse)
    async def feedback(body: FeedbackRequest, tenant: Tenant) -> FeedbackResponse:
        if memory_chat is None:
            raise NotFoundError("Memory is disabled on this server (memory.enabled).")
        return await memory_chat.feedback(tenant, body)

    @router.post("/completions", response_model=None)
    async def completions(body: CompletionRequest, request: Request, tenant: Tenant) -> Response:
        rid, exchange = _request_id(request), new_exchange_id()
        if body.stream:
            return await _sse(chat.stream_completion(body, exchange), rid)
        return _json(await chat.completion(body, exchange))

    return router


def _request_id(request: Request) -> str:
    return str(request.state.request_id)


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
