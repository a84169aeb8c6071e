"""Serve deployments: thin wrappers that put plain echoray objects on Ray (serve layer).

``InferenceServer`` hosts one engine (one deployment per configured model).
``Gateway`` is the ingress: it builds the same FastAPI app as ``echoray.local``, with
model clients that call the inference deployments through their handles.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from ray import serve
from ray.serve import Deployment
from ray.serve.handle import DeploymentHandle, DeploymentResponseGenerator

from echoray.api.app import make_app
from echoray.api.errors import unwrap
from echoray.config import EchoRayConfig, ModelSpec
from echoray.engines.base import GenerationChunk, GenerationRequest
from echoray.engines.factory import make_engine
from echoray.engines.host import EngineHost
from echoray.metrics import GatewayMetrics
from echoray.serving import ModelClient, OpenAIService
from echoray.streams import coalesce

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


class Gateway:
    """The HTTP ingress. Serve calls ``__serve_build_asgi_app__`` after ``__init__``."""

    def __init__(self, config: dict[str, Any], models: dict[str, DeploymentHandle]) -> None:
        self._config = EchoRayConfig.model_validate(config)
        self._metrics = GatewayMetrics()
        clients: dict[str, ModelClient] = {
            name: ServeModelClient(name, handle) for name, handle in models.items()
        }
        self._service = OpenAIService(clients, self._config.limits, self._metrics)

    def __serve_build_asgi_app__(self) -> FastAPI:
        return make_app(self._service, self._config, self._metrics, echo_request_id=False)


GatewayDeployment: Deployment = serve.deployment(name="Gateway")(serve.ingress()(Gateway))
InferenceDeployment: Deployment = serve.deployment(name="Inference")(InferenceServer)
