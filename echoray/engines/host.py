"""``EngineHost``: one engine's lifecycle — background load, readiness, health (engine
layer, no Ray). The Serve ``Inference`` deployment is a thin wrapper around it, and
in-process callers (tests, notebooks, benchmarks) use it directly as a model client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from echoray.engines.base import Engine, GenerationChunk, GenerationRequest
from echoray.errors import EngineError, ModelNotReadyError

log = logging.getLogger(__name__)


class EngineHost:
    """Starts an engine in the background and guards requests until it is loaded."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.name = engine.model_name
        self._load: asyncio.Task[None] | None = None

    def start_background(self) -> asyncio.Task[None]:
        """Begin loading; returns the task (await it to wait for the model)."""
        if self._load is None:
            self._load = asyncio.get_running_loop().create_task(self.engine.start())
            self._load.add_done_callback(self._log_failure)
        return self._load

    def _log_failure(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("model %s failed to load: %r", self.name, task.exception())

    async def wait_ready(self) -> None:
        await self.start_background()

    async def is_ready(self) -> bool:
        load = self._load
        return (
            load is not None and load.done() and not load.cancelled() and load.exception() is None
        )

    async def check_health(self) -> None:
        """Raise ``EngineError`` when the engine failed to load or is broken."""
        load = self._load
        if load is not None and load.done() and not load.cancelled() and load.exception():
            raise EngineError(f"model {self.name} failed to load: {load.exception()!r}")
        if await self.is_ready():
            await self.engine.check_health()

    async def info(self) -> dict[str, Any]:
        return {**self.engine.info(), "ready": await self.is_ready()}

    async def stats(self) -> dict[str, Any]:
        """Live engine counters (for engines that count them)."""
        return {
            "in_flight": getattr(self.engine, "in_flight", None),
            "decoding": getattr(self.engine, "decoding", None),
        }

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        if not await self.is_ready():
            raise ModelNotReadyError(f"model {self.name} is still loading", retry_after=2)
        async for chunk in self.engine.generate(request):
            yield chunk

    async def shutdown(self) -> None:
        if self._load is not None and not self._load.done():
            self._load.cancel()
        await self.engine.shutdown()
