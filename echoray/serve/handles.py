"""Clients over Serve deployment handles (serve layer): what ``make_services`` gets under
Ray in place of the in-process engines, embedder and pipeline."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError
from ray.serve.handle import DeploymentHandle, DeploymentResponseGenerator

from echoray.api.errors import unwrap
from echoray.cognition.processor import Capture, ChatTurn, Prepared
from echoray.engines.base import GenerationChunk, GenerationRequest
from echoray.errors import ServiceUnavailableError
from echoray.protocol.openai import FeedbackRequest, FeedbackResponse

log = logging.getLogger(__name__)


def as_echoray_error(exc: BaseException, what: str) -> BaseException:
    """A failed handle call as the error the client should see: Serve's own refusals (a
    full queue, no replica yet) become 503s with Retry-After in OpenAI's shape."""
    exc = unwrap(exc)
    if isinstance(exc, BackPressureError):
        return ServiceUnavailableError(
            f"the {what} is at capacity; retry shortly",
            code="queue_full",
            retry_after=exc.retry_after_s or 1,
        )
    if isinstance(exc, DeploymentUnavailableError):
        return ServiceUnavailableError(f"the {what} is unavailable", retry_after=5)
    return exc


class _HandleClient:
    """What every client over a deployment handle shares: calls whose errors come back as
    echoray's own, and a readiness check that answers False instead of raising."""

    what = "deployment"

    def __init__(self, handle: DeploymentHandle) -> None:
        self._handle = handle

    async def _call(self, method: str, *args: Any) -> Any:
        try:
            return await getattr(self._handle, method).remote(*args)
        except Exception as exc:
            raise as_echoray_error(exc, self.what) from None

    async def is_ready(self) -> bool:
        try:
            return bool(await self._handle.is_ready.remote())
        except Exception:
            log.warning("readiness check of the %s failed", self.what, exc_info=True)
            return False

    async def info(self) -> dict[str, Any]:
        return dict(await self._call("info"))


class ServeModelClient(_HandleClient):
    """A ``ModelClient`` over an ``InferenceServer`` deployment handle."""

    def __init__(self, name: str, handle: DeploymentHandle) -> None:
        super().__init__(handle)
        self.name = self.what = name
        self._stream = handle.options(stream=True)

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        response = self._stream.generate.remote(request)
        assert isinstance(response, DeploymentResponseGenerator)  # stream=True handle
        try:
            async for batch in response:
                for chunk in batch:
                    yield chunk
        except Exception as exc:
            raise as_echoray_error(exc, f"model {self.name}") from None
        finally:
            response.cancel()  # no-op when finished; stops decoding when the client left


class ServeEmbeddingClient(_HandleClient):
    """An ``EmbeddingClient`` over the ``EmbedderServer`` deployment handle."""

    what = "embedder"

    async def embed(self, texts: list[str]) -> tuple[np.ndarray, int]:
        vectors, tokens = await self._call("embed", texts)
        return vectors, int(tokens)


class ServeCognitionClient(_HandleClient):
    """A ``CognitionClient`` over the ``CognitiveServer`` deployment handle."""

    what = "cognitive processor"

    async def prepare(self, turn: ChatTurn) -> Prepared:
        result: Prepared = await self._call("prepare", turn)
        return result

    async def capture(self, capture: Capture, response: str, latency_ms: float) -> None:
        await self._call("capture", capture, response, latency_ms)

    async def feedback(self, tenant: str, request: FeedbackRequest) -> FeedbackResponse:
        result: FeedbackResponse = await self._call("feedback", tenant, request)
        return result
