"""Ollama's API over the same services as the OpenAI one (plain Python, no HTTP).

Each Ollama request becomes the OpenAI request it means (``/api/chat`` a chat completion,
``/api/generate`` a chat of one prompt, or with ``raw`` a text completion) and runs
through ``OpenAIService`` or, for a chat with a user, ``MemoryChat``: one validation,
one engine path, the same recall, capture and trace. The chunks that come back are
turned into Ollama's objects: a line per piece of text, then a last line with
``done: true``, ``done_reason``, token counts and durations in nanoseconds.

Durations: ``prompt_eval_duration`` is the time to the first token (recall included, on a
memory chat), ``eval_duration`` the decode after it, ``load_duration`` 0 (models are
resident: a server does not load per request).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from echoray.errors import InvalidRequestError, NotFoundError
from echoray.protocol.ollama import (
    OllamaChatRequest,
    OllamaEmbeddingsRequest,
    OllamaEmbedRequest,
    OllamaGenerateRequest,
    sampling_fields,
)
from echoray.protocol.openai import (
    ChatCompletionChunk,
    ChatCompletionRequest,
    CompletionRequest,
    CompletionResponse,
    EchoOptions,
    EmbeddingRequest,
)
from echoray.services.chat import OpenAIService
from echoray.services.embeddings import EmbeddingsService
from echoray.services.memory_chat import MemoryChat

M = TypeVar("M", bound=BaseModel)

# Models never expire here; Ollama shows a keep_alive of -1 the same way.
_NEVER_EXPIRES = "2318-01-01T00:00:00Z"


@dataclass(frozen=True)
class MemoryScope:
    """Whose memory an Ollama chat uses (Ollama requests carry no user): the tenant, the
    user (a header, or the tenant itself), the session, and whether to recall and write
    at all, and return the trace."""

    tenant: str
    user: str
    session: str | None = None
    memory: bool = True
    trace: bool = False


class OllamaService:
    """``/api/*`` semantics; see the module docstring."""

    def __init__(
        self,
        chat: OpenAIService,
        memory_chat: MemoryChat | None,
        embeddings: EmbeddingsService | None,
    ) -> None:
        self._chat = chat
        self._memory_chat = memory_chat
        self._embeddings = embeddings
        self._started_at = _timestamp()

    # --- generation ---------------------------------------------------------------------

    async def chat(
        self, request: OllamaChatRequest, scope: MemoryScope, exchange: str
    ) -> AsyncIterator[dict[str, Any]]:
        """The lines of an ``/api/chat`` answer (the route joins them when not streaming)."""
        started = time.perf_counter_ns()
        model = self._model(request.model)
        _refuse_unsupported(request.unsupported())
        if not request.messages:  # Ollama's way to load a model: nothing to say
            return _loaded(request.model, {"message": {"role": "assistant", "content": ""}})
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        chunks = await self._chat_chunks(model, messages, request.options, scope, exchange)
        return _lines(request.model, "chat", _texts_of_chat(chunks), started)

    async def generate(
        self, request: OllamaGenerateRequest, scope: MemoryScope, exchange: str
    ) -> AsyncIterator[dict[str, Any]]:
        """The lines of an ``/api/generate`` answer: a chat of the one prompt (with
        ``system`` before it), or with ``raw`` the prompt as the model's whole input."""
        started = time.perf_counter_ns()
        model = self._model(request.model)
        _refuse_unsupported(request.unsupported())
        if not request.prompt:
            return _loaded(request.model, {"response": ""})
        if request.raw:
            body = _validated(
                CompletionRequest,
                {"model": model, "prompt": request.prompt, **_streaming(request.options)},
            )
            stream = self._chat.stream_completion(body, exchange)
            return _lines(request.model, "generate", _texts_of_completion(stream), started)
        messages = [{"role": "user", "content": request.prompt}]
        if request.system:
            messages.insert(0, {"role": "system", "content": request.system})
        chunks = await self._chat_chunks(model, messages, request.options, scope, exchange)
        return _lines(request.model, "generate", _texts_of_chat(chunks), started)

    async def _chat_chunks(
        self,
        model: str,
        messages: list[dict[str, str]],
        options: dict[str, Any] | None,
        scope: MemoryScope,
        exchange: str,
    ) -> AsyncIterator[ChatCompletionChunk]:
        with_memory = self._memory_chat is not None and scope.memory
        body: dict[str, Any] = {"model": model, "messages": messages, **_streaming(options)}
        if with_memory:
            body["user"] = scope.user
            body["echo"] = EchoOptions(session=scope.session, trace=scope.trace)
        request = _validated(ChatCompletionRequest, body)
        if self._memory_chat is not None and with_memory:
            return await self._memory_chat.stream_chat(scope.tenant, request, exchange, None)
        return self._chat.stream_chat(request, exchange)

    # --- embeddings ---------------------------------------------------------------------

    async def embed(self, request: OllamaEmbedRequest) -> dict[str, Any]:
        started = time.perf_counter_ns()
        service = self._embedder(request.model)
        texts = request.texts()
        if not texts:
            raise InvalidRequestError("input must not be empty", param="input")
        body = EmbeddingRequest(
            model=service.model_name, input=texts, dimensions=request.dimensions
        )
        response = await service.embed(body)
        return {
            "model": request.model,
            "embeddings": [item.embedding for item in response.data],
            "total_duration": time.perf_counter_ns() - started,
            "load_duration": 0,
            "prompt_eval_count": response.usage.prompt_tokens,
        }

    async def embeddings(self, request: OllamaEmbeddingsRequest) -> dict[str, Any]:
        """The older endpoint: one vector; an empty prompt gets an empty one, as Ollama's."""
        service = self._embedder(request.model)
        if not request.prompt:
            return {"embedding": []}
        response = await service.embed(
            EmbeddingRequest(model=service.model_name, input=[request.prompt])
        )
        return {"embedding": response.data[0].embedding}

    # --- models -------------------------------------------------------------------------

    async def tags(self) -> dict[str, Any]:
        return {"models": [await self._listing(name) for name in self._all_models()]}

    async def running(self) -> dict[str, Any]:
        """``/api/ps``: the models loaded now (ready to answer)."""
        ready = await self._chat.readiness()
        loaded = []
        for name in self._all_models():
            if not ready.get(name, True):
                continue
            info = await self._info(name)
            loaded.append(
                {
                    **await self._listing(name),
                    "name": name,
                    "expires_at": _NEVER_EXPIRES,
                    "size_vram": 0 if info.get("device", "cpu") == "cpu" else None,
                    "context_length": info.get("max_model_len"),
                }
            )
        return {"models": loaded}

    async def show(self, name: str) -> dict[str, Any]:
        model = self._model_or_embedder(name)
        info = await self._info(model)
        embedding = self._embeddings is not None and model == self._embeddings.model_name
        architecture = str(info.get("architecture") or info.get("engine") or "unknown")
        model_info: dict[str, Any] = {"general.architecture": architecture}
        if info.get("parameters") is not None:
            model_info["general.parameter_count"] = info["parameters"]
        if info.get("max_model_len") is not None:
            model_info[f"{architecture}.context_length"] = info["max_model_len"]
        if info.get("dimension") is not None:
            model_info[f"{architecture}.embedding_length"] = info["dimension"]
        model_info.update({f"echoray.{k}": v for k, v in info.items() if _scalar(v)})
        return {
            "license": "",
            "modelfile": f"# served by echoray\nFROM {info.get('source') or model}\n",
            "parameters": "",
            "template": "",
            "details": _details(info),
            "model_info": model_info,
            "capabilities": ["embedding"] if embedding else ["completion"],
            "modified_at": self._started_at,
        }

    # --- lookups ------------------------------------------------------------------------

    def _all_models(self) -> list[str]:
        names = self._chat.model_names()
        if self._embeddings is not None:
            names.append(self._embeddings.model_name)
        return names

    def _model(self, name: str) -> str:
        """The served model ``name`` means: Ollama clients add ``:latest`` to bare names."""
        for candidate in (name, name.removesuffix(":latest")):
            if candidate in self._chat.model_names():
                return candidate
        raise NotFoundError(f'model "{name}" not found', param="model", code="model_not_found")

    def _embedder(self, name: str) -> EmbeddingsService:
        service = self._embeddings
        if service is None or service.model_name not in (name, name.removesuffix(":latest")):
            available = [] if service is None else [service.model_name]
            raise NotFoundError(
                f'embedding model "{name}" not found (this server embeds with {available})',
                param="model",
                code="model_not_found",
            )
        return service

    def _model_or_embedder(self, name: str) -> str:
        if self._embeddings is not None and name.removesuffix(":latest") == (
            self._embeddings.model_name
        ):
            return self._embeddings.model_name
        return self._model(name)

    async def _info(self, name: str) -> dict[str, Any]:
        if self._embeddings is not None and name == self._embeddings.model_name:
            return {"engine": "embedding", **await self._embeddings.info()}
        return await self._chat.model_info(name)

    async def _listing(self, name: str) -> dict[str, Any]:
        info = await self._info(name)
        source = str(info.get("source") or name)
        return {
            "name": name,
            "model": name,
            "modified_at": self._started_at,
            "size": 0,  # weights live in the engine's replicas, not on this gateway
            "digest": hashlib.sha256(source.encode()).hexdigest(),
            "details": _details(info),
        }


# --- helpers ---------------------------------------------------------------------------


def _streaming(options: dict[str, Any] | None) -> dict[str, Any]:
    """The OpenAI body fields of a streamed request with usage, for these options."""
    fields = sampling_fields(options)
    return {**fields, "stream": True, "stream_options": {"include_usage": True}}


def _validated(model: type[M], body: dict[str, Any]) -> M:
    """``model`` of ``body``; a value the OpenAI side refuses is Ollama's 400."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise InvalidRequestError(f"{where}: {first.get('msg')}", param=where) from None


def _refuse_unsupported(reason: str | None) -> None:
    if reason is not None:
        raise InvalidRequestError(reason)


@dataclass
class _Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    echo: dict[str, Any] | None = None


async def _texts_of_chat(
    chunks: AsyncIterator[ChatCompletionChunk],
) -> AsyncIterator[str | _Usage]:
    """The text pieces of a chat stream, then its usage, finish reason and trace."""
    usage = _Usage()
    try:
        async for chunk in chunks:
            for choice in chunk.choices:
                if choice.delta.content:
                    yield choice.delta.content
                if choice.finish_reason is not None:
                    usage.finish_reason = choice.finish_reason
            if chunk.usage is not None:
                usage.prompt_tokens = chunk.usage.prompt_tokens
                usage.completion_tokens = chunk.usage.completion_tokens
            if chunk.echo is not None:
                usage.echo = chunk.echo
    finally:
        await _close(chunks)
    yield usage


async def _texts_of_completion(
    chunks: AsyncIterator[CompletionResponse],
) -> AsyncIterator[str | _Usage]:
    usage = _Usage()
    try:
        async for chunk in chunks:
            for choice in chunk.choices:
                if choice.text:
                    yield choice.text
                if choice.finish_reason is not None:
                    usage.finish_reason = choice.finish_reason
            if chunk.usage is not None:
                usage.prompt_tokens = chunk.usage.prompt_tokens
                usage.completion_tokens = chunk.usage.completion_tokens
    finally:
        await _close(chunks)
    yield usage


async def _lines(
    model: str, kind: str, pieces: AsyncIterator[str | _Usage], started_ns: int
) -> AsyncIterator[dict[str, Any]]:
    """Ollama's objects for ``pieces``: one per text piece, then the ``done`` one."""
    first_token_ns: int | None = None
    try:
        async for piece in pieces:
            if isinstance(piece, str):
                first_token_ns = first_token_ns or time.perf_counter_ns()
                yield {
                    "model": model,
                    "created_at": _timestamp(),
                    **_text(kind, piece),
                    "done": False,
                }
                continue
            now = time.perf_counter_ns()
            first = first_token_ns or now
            last: dict[str, Any] = {
                "model": model,
                "created_at": _timestamp(),
                **_text(kind, ""),
                "done": True,
                "done_reason": piece.finish_reason or "stop",
                "total_duration": now - started_ns,
                "load_duration": 0,
                "prompt_eval_count": piece.prompt_tokens,
                "prompt_eval_duration": first - started_ns,
                "eval_count": piece.completion_tokens,
                "eval_duration": now - first,
            }
            if piece.echo is not None:
                last["echo"] = piece.echo
            yield last
    finally:
        await _close(pieces)


async def _loaded(model: str, empty: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    yield {"model": model, "created_at": _timestamp(), **empty, "done": True, "done_reason": "load"}


def _text(kind: str, text: str) -> dict[str, Any]:
    if kind == "chat":
        return {"message": {"role": "assistant", "content": text}}
    return {"response": text}


def _details(info: dict[str, Any]) -> dict[str, Any]:
    family = str(info.get("architecture") or info.get("engine") or "unknown")
    parameters = info.get("parameters")
    return {
        "parent_model": "",
        "format": "safetensors" if info.get("engine") == "torch" else str(info.get("engine", "")),
        "family": family,
        "families": [family],
        "parameter_size": _parameter_size(parameters) if parameters else "",
        "quantization_level": str(info.get("dtype") or "").upper(),
    }


def _parameter_size(count: int) -> str:
    if count >= 1e9:
        return f"{count / 1e9:.1f}B"
    return f"{count / 1e6:.0f}M"


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _timestamp() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def _close(stream: object) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
