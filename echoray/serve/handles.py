"""Clients over Serve deployment handles (serve layer): what ``make_services`` gets under
Ray in place of the in-process engines, embedder and pipeline."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError
from ray.serve.handle import DeploymentHandle, DeploymentResponseGenerator

from echoray.api.errors import unwrap
from echoray.cognition.processor import Capture, ChatTurn, Prepared
from echoray.engines.base import GenerationChunk, GenerationRequest
from echoray.errors import EchoRayError, ServiceUnavailableError
from echoray.protocol.openai import FeedbackRequest, FeedbackResponse

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Refusal:
    """An expected error (the caller's mistake, a full queue, a model still loading) that a
    deployment returns instead of raising: Serve logs every raised error as a failed
    request with its traceback, at ERROR. The handle client raises it again."""

    error: EchoRayError


def is_expected(exc: BaseException) -> bool:
    """A 4xx, or a 503 that says when to retry: answers, not faults of the server."""
    return isinstance(exc, EchoRayError) and (
        exc.status_code < 500 or isinstance(exc, ServiceUnavailableError)
    )


async def refusing(call: Awaitable[T]) -> T | Refusal:
    """Run a deployment method's work; an expected error comes back as a ``Refusal``."""
    try:
        return await call
    except EchoRayError as exc:
        if is_expected(exc):
            return Refusal(exc)
        raise


async def refusing_stream(stream: AsyncIterator[T]) -> AsyncIterator[T | Refusal]:
    """``refusing`` for a stream: an expected error ends it as its last item."""
    try:
        async for item in stream:
            yield item
    except EchoRayError as exc:
        if not is_expected(exc):
            raise
        yield Refusal(exc)


def _raise_refusal(result: Any) -> Any:
    if isinstance(result, Refusal):
        raise result.error
    return result


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
            result = await getattr(self._handle, method).remote(*args)
        except Exception as exc:
            raise as_echoray_error(exc, self.what) from None
        return _raise_refusal(result)

    async def is_ready(self) -> bool:
        try:
            return bool(await self._handle.is_ready.remote())
        except BackPressureError:
            return True  # too busy to answer is up and serving: overload is not unreadiness
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

    async def stats(self) -> dict[str, Any]:
        return dict(await self._call("stats"))

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        response = self._stream.generate.remote(request)
        assert isinstance(response, DeploymentResponseGenerator)  # stream=True handle
        try:
            async for batch in response:
                for chunk in _raise_refusal(batch):
                    yield chunk
        except Exception as exc:
            raise as_echoray_error(exc, f"model {self.name}") from None
        finally:
            # Stops decoding when the client left. A request Serve refused raises its
            # BackPressureError again here, which would replace the 503 raised above.
            with contextlib.suppress(Exception):
                response.cancel()


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
