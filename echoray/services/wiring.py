"""``make_services``: the one place that composes the application tier (plain Python).

The Serve gateway (``echoray.serve.deployments``) and the in-process app
(``echoray.api.local``) differ only in their ``Clients``: deployment handles and actors
there, engines and shard cores in this process here. Both call ``make_services`` with
them, then ``echoray.api.app.make_app`` over the result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from echoray.cognition.processor import CognitiveProcessor, ModelLimits
from echoray.config import EchoRayConfig
from echoray.embeddings import EmbeddingClient
from echoray.engines.base import ModelClient
from echoray.learning.scheduler import ConsolidationControl
from echoray.memory.api import Shards
from echoray.services.chat import OpenAIService
from echoray.services.embeddings import EmbeddingsService
from echoray.services.memories import MemoryService
from echoray.services.memory_chat import CognitionClient, MemoryChat
from echoray.services.metrics import GatewayMetrics
from echoray.services.recent_traces import RecentTraces


@dataclass(frozen=True)
class Clients:
    """What the services reach: the models, and (when enabled) the embedder, the memory
    shards, the cognitive pipeline and consolidation."""

    models: Mapping[str, ModelClient]
    embedder: EmbeddingClient | None = None
    shards: Shards | None = None
    cognition: CognitionClient | None = None
    consolidation: ConsolidationControl | None = None


@dataclass(frozen=True)
class Services:
    """What the HTTP routes call; ``metrics`` is the registry they all report to, and
    ``traces`` keeps the last memory chats for the dashboard."""

    chat: OpenAIService
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)
    embeddings: EmbeddingsService | None = None
    memories: MemoryService | None = None
    memory_chat: MemoryChat | None = None
    consolidation: ConsolidationControl | None = None
    traces: RecentTraces = field(default_factory=RecentTraces)


def make_services(config: EchoRayConfig, clients: Clients) -> Services:
    """Compose the services over ``clients``: memory needs the embedder and the shards,
    a chat with memory needs the cognitive pipeline too."""
    metrics = GatewayMetrics()
    traces = RecentTraces()
    chat = OpenAIService(dict(clients.models), config.limits, metrics)
    embeddings = memories = memory_chat = None
    if clients.embedder is not None:
        embeddings = EmbeddingsService(clients.embedder, config.embeddings)
        if clients.shards is not None and config.memory.enabled:
            memories = MemoryService(clients.shards, clients.embedder, config.memory, metrics)
    if clients.cognition is not None and memories is not None:
        memory_chat = MemoryChat(
            chat,
            clients.cognition,
            metrics,
            deadline_s=config.cognition.pipeline_deadline_ms / 1000,
            request_timeout_s=config.limits.request_timeout_s,
            traces=traces,
        )
    return Services(
        chat=chat,
        metrics=metrics,
        embeddings=embeddings,
        memories=memories,
        memory_chat=memory_chat,
        consolidation=clients.consolidation if memories is not None else None,
        traces=traces,
    )


def make_processor(
    config: EchoRayConfig,
    shards: Shards,
    embedder: EmbeddingClient,
    limits: Mapping[str, Callable[[], ModelLimits]],
) -> CognitiveProcessor:
    """The cognitive pipeline of ``config`` (its own deployment under Serve, in process
    otherwise); ``limits`` loads each model's token counter and context window."""
    return CognitiveProcessor(config.cognition, shards, embedder, limits)
