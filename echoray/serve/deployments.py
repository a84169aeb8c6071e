"""Serve deployments: thin wrappers that put plain echoray objects on Ray (serve layer).

``InferenceServer`` hosts one engine (one deployment per configured model).
``Gateway`` is the ingress: it builds the same FastAPI app as ``echoray.services.local``, with
model clients that call the inference deployments through their handles.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
from fastapi import FastAPI
from ray import serve
from ray.serve import Deployment
from ray.serve.handle import DeploymentHandle, DeploymentResponseGenerator

from echoray.api.app import make_app
from echoray.api.errors import unwrap
from echoray.cognition.processor import CognitiveProcessor, ModelLimits, Prepared
from echoray.config import EchoRayConfig, EmbeddingsConfig, ModelSpec
from echoray.embeddings import MINILM_DIMENSION, Embedder, make_embedder
from echoray.engines.base import GenerationChunk, GenerationRequest
from echoray.engines.factory import make_engine
from echoray.engines.host import EngineHost
from echoray.engines.streams import coalesce
from echoray.engines.tokens import load_token_counter
from echoray.errors import EngineError, ModelNotReadyError
from echoray.protocol.openai import EchoOptions, FeedbackRequest, FeedbackResponse
from echoray.serve.consolidator import RayConsolidation, start_consolidator
from echoray.serve.shard import ShardClient, start_shards
from echoray.services.chat import ModelClient, OpenAIService
from echoray.services.embeddings import EmbeddingsService
from echoray.services.memories import MemoryService
from echoray.services.memory_chat import MemoryChat
from echoray.services.metrics import GatewayMetrics

log = logging.getLogger(__name__)


class InferenceServer:
    """One model's engine in a Serve replica. The model loads in the background so the
    replica starts at once and ``is_ready`` (hence ``/readyz``) tells when it can serve."""

    def __init__(self, spec: dict[str, Any], cache_dir: str) -> None:
        model_spec = ModelSpec.model_validate(spec)
        self._host = EngineHost(make_engine(model_spec, cache_dir))  # ConfigError fails deploy

    async def is_ready(self) -> bool:
        self._host.start_background()
        return await self._host.is_ready()

    async def info(self) -> dict[str, Any]:
        return await self._host.info()

    async def stats(self) -> dict[str, Any]:
        return self._host.stats()

    async def check_health(self) -> None:
        """Serve calls this periodically; raising makes Serve replace the replica."""
        self._host.start_background()
        await self._host.check_health()

    async def generate(self, request: GenerationRequest) -> AsyncIterator[list[GenerationChunk]]:
        """Stream lists of chunks: each list is what the engine had ready (one handle
        round trip per burst, not per token)."""
        self._host.start_background()
        async for batch in coalesce(self._host.generate(request)):
            yield batch

    async def __del__(self) -> None:
        await self._host.shutdown()


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


class EmbedderServer:
    """The embedding model in a Serve replica. Concurrent requests are embedded together:
    ``@serve.batch`` gathers calls for up to ``batch_wait_timeout_s`` (or
    ``max_batch_size`` calls) and runs the model once over all their texts."""

    async def __init__(self, config: dict[str, Any]) -> None:  # type: ignore[misc]  # Serve awaits it
        settings = EmbeddingsConfig.model_validate(config)
        self._name = settings.model_name
        # Load in the background, like the engines, so /readyz can tell "loading" apart.
        self._loading = asyncio.create_task(asyncio.to_thread(make_embedder, settings))
        batched: Any = self._embed_batched  # @serve.batch adds these setters
        batched.set_max_batch_size(settings.max_batch_size)
        batched.set_batch_wait_timeout_s(settings.batch_wait_timeout_s)

    def _embedder(self) -> Embedder:
        if not self._loading.done():
            raise ModelNotReadyError(
                f"embedding model {self._name} is still loading", retry_after=2
            )
        return self._loading.result()  # re-raises a load failure

    async def is_ready(self) -> bool:
        return self._loading.done() and self._loading.exception() is None

    async def check_health(self) -> None:
        if self._loading.done() and self._loading.exception() is not None:
            raise EngineError(f"embedding model failed to load: {self._loading.exception()!r}")

    async def info(self) -> dict[str, Any]:
        return {"kind": "embedding", "dimension": MINILM_DIMENSION, "ready": await self.is_ready()}

    async def embed(self, texts: list[str]) -> tuple[np.ndarray, int]:
        self._embedder()  # fail fast while loading, before joining a batch
        return await self._embed_batched(texts)

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.005)
    async def _embed_batched(self, calls: list[list[str]]) -> list[tuple[np.ndarray, int]]:
        embedder = self._embedder()
        flat = [text for texts in calls for text in texts]
        vectors = await asyncio.to_thread(embedder.embed, flat)
        results, start = [], 0
        for texts in calls:
            end = start + len(texts)
            results.append((vectors[start:end], embedder.count_tokens(texts)))
            start = end
        return results


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


class CognitiveServer:
    """The ``CognitiveProcessor`` in a Serve replica: it reaches the memory shards and the
    embedder itself and counts tokens with each model's tokenizer (loaded at start)."""

    def __init__(self, config: dict[str, Any], embedder: DeploymentHandle) -> None:
        settings = EchoRayConfig.model_validate(config)
        shards = ShardClient(start_shards(settings))  # get-or-create, detached
        loaders = {
            spec.name: functools.partial(_model_limits, spec, settings.cache.dir)
            for spec in settings.models
        }
        self._processor = CognitiveProcessor(
            settings.cognition, shards, ServeEmbeddingClient(embedder), loaders
        )
        self._warm = asyncio.create_task(self._warm_up())

    async def _warm_up(self) -> None:
        """Warm up before reporting ready, retrying while the embedder is still loading."""
        for attempt in range(_WARM_UP_ATTEMPTS):
            try:
                await self._processor.warm_up()
                return
            except Exception:
                if attempt % 10 == 0:
                    log.info("cognition warm-up waits for the embedder", exc_info=True)
                await asyncio.sleep(1.0)
        log.warning("cognition warm-up gave up; the first requests will warm it up")

    async def is_ready(self) -> bool:
        return self._warm.done()

    async def prepare(
        self,
        tenant: str,
        user: str,
        model: str,
        messages: list[dict[str, str]],
        max_tokens: int,
        options: EchoOptions,
        request_id: str,
    ) -> Prepared:
        return await self._processor.prepare(
            tenant, user, model, messages, max_tokens, options, request_id
        )

    async def capture(self, prepared: Prepared, response: str, latency_ms: float) -> None:
        await self._processor.capture(prepared, response, latency_ms)

    async def feedback(self, tenant: str, request: FeedbackRequest) -> FeedbackResponse:
        return await self._processor.feedback(tenant, request)


_WARM_UP_ATTEMPTS = 600  # one a second: the embedder may take minutes on a cold node


def _model_limits(spec: ModelSpec, cache_dir: str) -> ModelLimits:
    return ModelLimits(load_token_counter(spec, cache_dir), spec.max_model_len)


class ServeCognitionClient:
    """A ``CognitionClient`` over the ``CognitiveServer`` deployment handle."""

    def __init__(self, handle: DeploymentHandle) -> None:
        self._handle = handle

    async def _call(self, method: str, *args: Any) -> Any:
        try:
            return await getattr(self._handle, method).remote(*args)
        except Exception as exc:
            raise unwrap(exc) from None

    async def prepare(
        self,
        tenant: str,
        user: str,
        model: str,
        messages: list[dict[str, str]],
        max_tokens: int,
        options: EchoOptions,
        request_id: str,
    ) -> Prepared:
        return await self._call(
            "prepare", tenant, user, model, messages, max_tokens, options, request_id
        )

    async def capture(self, prepared: Prepared, response: str, latency_ms: float) -> None:
        await self._call("capture", prepared, response, latency_ms)

    async def feedback(self, tenant: str, request: FeedbackRequest) -> FeedbackResponse:
        return await self._call("feedback", tenant, request)

    async def is_ready(self) -> bool:
        try:
            return bool(await self._handle.is_ready.remote())
        except Exception:
            log.warning("readiness check of the cognitive processor failed", exc_info=True)
            return False


class Gateway:
    """The HTTP ingress. Serve calls ``__serve_build_asgi_app__`` after ``__init__``."""

    def __init__(
        self,
        config: dict[str, Any],
        models: dict[str, DeploymentHandle],
        embedder: DeploymentHandle | None = None,
        cognition: DeploymentHandle | None = None,
    ) -> None:
        self._config = EchoRayConfig.model_validate(config)
        self._metrics = GatewayMetrics()
        clients: dict[str, ModelClient] = {
            name: ServeModelClient(name, handle) for name, handle in models.items()
        }
        self._service = OpenAIService(clients, self._config.limits, self._metrics)
        self._embeddings = self._memory = None
        self._consolidation: RayConsolidation | None = None
        if embedder is not None:
            client = ServeEmbeddingClient(embedder)
            self._embeddings = EmbeddingsService(client, self._config.embeddings)
            if self._config.memory.enabled:
                shards = ShardClient(start_shards(self._config))  # get-or-create, detached
                self._memory = MemoryService(shards, client, self._config.memory)
                app_name = serve.get_replica_context().app_name
                self._consolidation = RayConsolidation(
                    start_consolidator(self._config, app_name=app_name)
                )
        self._chat_memory = None
        if cognition is not None:
            self._chat_memory = MemoryChat(
                self._service,
                ServeCognitionClient(cognition),
                self._metrics,
                deadline_s=self._config.cognition.pipeline_deadline_ms / 1000,
            )

    def __serve_build_asgi_app__(self) -> FastAPI:
        return make_app(
            self._service,
            self._config,
            self._metrics,
            embeddings=self._embeddings,
            memory=self._memory,
            chat_memory=self._chat_memory,
            consolidation=self._consolidation,
            echo_request_id=False,
        )


GatewayDeployment: Deployment = serve.deployment(name="Gateway")(serve.ingress()(Gateway))
InferenceDeployment: Deployment = serve.deployment(name="Inference")(InferenceServer)
EmbedderDeployment: Deployment = serve.deployment(name="Embedder")(EmbedderServer)
CognitiveDeployment: Deployment = serve.deployment(name="CognitiveProcessor")(CognitiveServer)
