"""Clients over Serve deployment handles (serve layer): what ``make_services`` gets under
Ray in place of the in-process engines, embedder and pipeline."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
from ray.serve.handle import DeploymentHandle, DeploymentResponseGenerator

from echoray.api.errors import unwrap
from echoray.cognition.processor import Capture, ChatTurn, Prepared
from echoray.engines.base import GenerationChunk, GenerationRequest
from echoray.protocol.openai import FeedbackRequest, FeedbackResponse

log = logging.getLogger(__name__)


class ServeModelClient:
    """A ``ModelClient`` over an ``InferenceServer`` deployment handle."""

    def __init__(self, name: str, handle: DeploymentHandle) -> None:
        self.name = name
        self._handle = handle
        self._stream = handle.options(stream=True)

    async def is_ready(self) -> bool:
        try:
            return bool(await self._handle.is_ready.remote())
        except Exception:
            log.warning("readiness check of %s failed", self.name, exc_info=True)
            return False

    async def info(self) -> dict[str, Any]:
        return dict(await self._handle.info.remote())

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        response = self._stream.generate.remote(request)
        assert isinstance(response, DeploymentResponseGenerator)  # stream=True handle
        try:
            async for batch in response:
                for chunk in batch:
                    yield chunk
        except Exception as exc:
            raise unwrap(exc) from None
        finally:
            response.cancel()  # no-op when finished; stops decoding when the client left


class ServeEmbeddingClient:
    """An ``EmbeddingClient`` over the ``EmbedderServer`` deployment handle."""

    def __init__(self, handle: DeploymentHandle) -> None:
        self._handle = handle

    async def embed(self, texts: list[str]) -> tuple[np.ndarray, int]:
        try:
            vectors, tokens = await self._handle.embed.remote(texts)
        except Exception as exc:
            raise unwrap(exc) from None
        return vectors, int(tokens)

    async def is_ready(self) -> bool:
        try:
            return bool(await self._handle.is_ready.remote())
        except Exception:
            log.warning("readiness check of the embedder failed", exc_info=True)
            return False

    async def info(self) -> dict[str, Any]:
        return dict(await self._handle.info.remote())


class ServeCognitionClient:
    """A ``CognitionClient`` over the ``CognitiveServer`` deployment handle."""

    def __init__(self, handle: DeploymentHandle) -> None:
        self._handle = handle

    async def _call(self, method: str, *args: Any) -> Any:
        try:
            return await getattr(self._handle, method).remote(*args)
        except Exception as exc:
            raise unwrap(exc) from None

    async def prepare(self, turn: ChatTurn) -> Prepared:
        result: Prepared = await self._call("prepare", turn)
        return result

    async def capture(self, capture: Capture, response: str, latency_ms: float) -> None:
        await self._call("capture", capture, response, latency_ms)

    async def feedback(self, tenant: str, request: FeedbackRequest) -> FeedbackResponse:
        return await self._call("feedback", tenant, request)

    async def is_ready(self) -> bool:
        try:
            return bool(await self._handle.is_ready.remote())
        except Exception:
            log.warning("readiness check of the cognitive processor failed", exc_info=True)
            return False
