"""Ollama's REST API (API layer), on the same port as the OpenAI one.

``/api/chat``, ``/api/generate``, ``/api/embed``, ``/api/embeddings``, ``/api/tags``,
``/api/show``, ``/api/ps`` and ``/api/version``, for the official ``ollama`` clients and
the tools built on them. The same bearer keys apply (``ollama`` sends ``OLLAMA_API_KEY``
as one). Errors are Ollama's ``{"error": "..."}`` (``echoray.api.errors``).

Ollama requests carry no user, so memory is scoped by headers: ``X-EchoRay-User`` names
the user (the key's tenant is the user without it), ``X-EchoRay-Session`` the session;
``X-EchoRay-Memory: off`` answers without memory, ``X-EchoRay-Trace: on`` adds the
pipeline's trace as ``echo`` on the last line.
"""

import json
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from echoray.api.errors import ollama_error_line
from echoray.protocol.ids import new_exchange_id
from echoray.protocol.ollama import (
    OLLAMA_API_VERSION,
    OllamaChatRequest,
    OllamaEmbeddingsRequest,
    OllamaEmbedRequest,
    OllamaGenerateRequest,
    OllamaShowRequest,
)
from echoray.services.ollama import MemoryScope, OllamaService
from echoray.services.wiring import Services

NDJSON = "application/x-ndjson"
_OFF = {"off", "false", "0", "no"}
_ON = {"on", "true", "1", "yes"}

_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "NDJSON lines (the default), or one JSON object with `stream: false`.",
        "content": {
            NDJSON: {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


def ollama_router(
    services: Services, authenticate: Callable[..., Coroutine[Any, Any, str]]
) -> APIRouter:
    Tenant = Annotated[str, Depends(authenticate)]
    router = APIRouter(prefix="/api", tags=["ollama"])
    ollama = OllamaService(services.chat, services.memory_chat, services.embeddings)

    @router.post("/chat", response_model=None, responses=_STREAM_DOC)
    async def chat(body: OllamaChatRequest, request: Request, tenant: Tenant) -> Response:
        lines = await ollama.chat(body, memory_scope(request, tenant), new_exchange_id())
        return await _answer(lines, body.stream, "message")

    @router.post("/generate", response_model=None, responses=_STREAM_DOC)
    async def generate(body: OllamaGenerateRequest, request: Request, tenant: Tenant) -> Response:
        lines = await ollama.generate(body, memory_scope(request, tenant), new_exchange_id())
        return await _answer(lines, body.stream, "response")

    @router.post("/embed")
    async def embed(body: OllamaEmbedRequest, tenant: Tenant) -> dict[str, Any]:
        return await ollama.embed(body)

    @router.post("/embeddings")
    async def embeddings(body: OllamaEmbeddingsRequest, tenant: Tenant) -> dict[str, Any]:
        return await ollama.embeddings(body)

    @router.get("/tags")
    async def tags(tenant: Tenant) -> dict[str, Any]:
        return await ollama.tags()

    @router.post("/show")
    async def show(body: OllamaShowRequest, tenant: Tenant) -> dict[str, Any]:
        return await ollama.show(body.model_name())

    @router.get("/ps")
    async def running(tenant: Tenant) -> dict[str, Any]:
        return await ollama.running()

    @router.get("/version")
    async def version() -> dict[str, str]:
        """Open, as Ollama's is: clients ask it before they know a key is needed."""
        return {"version": OLLAMA_API_VERSION}

    return router


def memory_scope(request: Request, tenant: str) -> MemoryScope:
    headers = request.headers
    return MemoryScope(
        tenant=tenant,
        user=headers.get("x-echoray-user") or tenant,
        session=headers.get("x-echoray-session") or headers.get("x-echo-session"),
        memory=headers.get("x-echoray-memory", "on").lower() not in _OFF,
        trace=headers.get("x-echoray-trace", "off").lower() in _ON,
    )


async def _answer(lines: AsyncIterator[dict[str, Any]], stream: bool, text_key: str) -> Response:
    """Start the generation now, so a refusal before the first token is an HTTP error;
    then stream NDJSON, or join the lines into the one object Ollama sends unstreamed."""
    first = await anext(lines)
    if not stream:
        return JSONResponse(await _joined(first, lines, text_key))

    async def body() -> AsyncIterator[bytes]:
        try:
            yield _line(first)
            async for line in lines:
                yield _line(line)
        except Exception as exc:  # after the first byte, errors travel as a line
            yield ollama_error_line(exc)
        finally:
            await lines.aclose()  # type: ignore[attr-defined]  # a dropped client stops it

    return StreamingResponse(body(), media_type=NDJSON)


async def _joined(
    first: dict[str, Any], lines: AsyncIterator[dict[str, Any]], text_key: str
) -> dict[str, Any]:
    pieces, last = [], first
    async for line in _chain(first, lines):
        pieces.append(_text_of(line, text_key))
        last = line
    joined = "".join(pieces)
    if text_key == "message":
        return {**last, "message": {**last["message"], "content": joined}}
    return {**last, text_key: joined}


async def _chain(
    first: dict[str, Any], rest: AsyncIterator[dict[str, Any]]
) -> AsyncIterator[dict[str, Any]]:
    yield first
    async for line in rest:
        yield line


def _text_of(line: dict[str, Any], text_key: str) -> str:
    value = line.get(text_key, "")
    return str(value.get("content", "") if isinstance(value, dict) else value)


def _line(line: dict[str, Any]) -> bytes:
    return (json.dumps(line, separators=(",", ":")) + "\n").encode()
