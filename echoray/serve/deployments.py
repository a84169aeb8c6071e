"""Serve deployments: thin wrappers that put plain echoray objects on Ray (serve layer).

``InferenceServer`` hosts one engine (one deployment per configured model),
``EmbedderServer`` the embedding model, ``CognitiveServer`` the cognitive pipeline.
``Gateway`` is the ingress: the same ``make_services`` and ``make_app`` as in process, over
the clients of ``handles`` and the memory actors.
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
from ray.serve.handle import DeploymentHandle

from echoray.api.app import make_app
from echoray.cognition.processor import Capture, ChatTurn, ModelLimits, Prepared
from echoray.config import EchoRayConfig, EmbeddingsConfig, ModelSpec
from echoray.embeddings import MINILM_DIMENSION, Embedder, make_embedder
from echoray.engines.base import GenerationChunk, GenerationRequest
from echoray.engines.factory import make_engine
from echoray.engines.host import EngineHost
from echoray.engines.streams import coalesce
from echoray.engines.tokens import load_token_counter
from echoray.errors import EngineError, ModelNotReadyError
from echoray.protocol.openai import FeedbackRequest, FeedbackResponse
from echoray.serve.consolidator import RayConsolidation, start_consolidator
from echoray.serve.handles import (
    Refusal,
    ServeCognitionClient,
    ServeEmbeddingClient,
    ServeModelClient,
    refusing,
    refusing_stream,
)
from echoray.serve.shard import ShardClient, start_shards
from echoray.services.wiring import Clients, make_processor, make_services

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
        return await self._host.stats()

    async def check_health(self) -> None:
        """Serve calls this periodically; raising makes Serve replace the replica."""
        self._host.start_background()
        await self._host.check_health()

    async def generate(
        self, request: GenerationRequest
    ) -> AsyncIterator[list[GenerationChunk] | Refusal]:
        """Stream lists of chunks: each list is what the engine had ready (one handle
        round trip per burst, not per token). A refused request (queue full, too long)
        ends with its ``Refusal``."""
        self._host.start_background()
        async for batch in refusing_stream(coalesce(self._host.generate(request))):
            yield batch

    async def __del__(self) -> None:
        await self._host.shutdown()


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

    async def embed(self, texts: list[str]) -> tuple[np.ndarray, int] | Refusal:
        return await refusing(self._embed(texts))

    async def _embed(self, texts: list[str]) -> tuple[np.ndarray, int]:
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
        self._processor = make_processor(settings, shards, ServeEmbeddingClient(embedder), loaders)
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

    async def prepare(self, turn: ChatTurn) -> Prepared | Refusal:
        return await refusing(self._processor.prepare(turn))

    async def capture(self, capture: Capture, response: str, latency_ms: float) -> None:
        await self._processor.capture(capture, response, latency_ms)

    async def feedback(self, tenant: str, request: FeedbackRequest) -> FeedbackResponse | Refusal:
        return await refusing(self._processor.feedback(tenant, request))


_WARM_UP_ATTEMPTS = 600  # one a second: the embedder may take minutes on a cold node


def _model_limits(spec: ModelSpec, cache_dir: str) -> ModelLimits:
    return ModelLimits(load_token_counter(spec, cache_dir), spec.max_model_len)


class Gateway:
    """The HTTP ingress: the same services and app as in process, over handles and actors.
    Serve calls ``__serve_build_asgi_app__`` after ``__init__``."""

    def __init__(
        self,
        config: dict[str, Any],
        models: dict[str, DeploymentHandle],
        embedder: DeploymentHandle | None = None,
        cognition: DeploymentHandle | None = None,
    ) -> None:
        self._config = EchoRayConfig.model_validate(config)
        shards = consolidation = None
        if embedder is not None and self._config.memory.enabled:
            shards = ShardClient(start_shards(self._config))  # get-or-create, detached
            app_name = serve.get_replica_context().app_name
            consolidation = RayConsolidation(start_consolidator(self._config, app_name=app_name))
        clients = Clients(
            models={name: ServeModelClient(name, handle) for name, handle in models.items()},
            embedder=ServeEmbeddingClient(embedder) if embedder is not None else None,
            shards=shards,
            cognition=ServeCognitionClient(cognition) if cognition is not None else None,
            consolidation=consolidation,
        )
        self._services = make_services(self._config, clients)

    def __serve_build_asgi_app__(self) -> FastAPI:
        return make_app(self._services, self._config, echo_request_id=False)


GatewayDeployment: Deployment = serve.deployment(name="Gateway")(serve.ingress()(Gateway))
InferenceDeployment: Deployment = serve.deployment(name="Inference")(InferenceServer)
EmbedderDeployment: Deployment = serve.deployment(name="Embedder")(EmbedderServer)
CognitiveDeployment: Deployment = serve.deployment(name="CognitiveProcessor")(CognitiveServer)
