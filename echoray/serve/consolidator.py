"""The ``Consolidator`` Ray actor: consolidation as Ray tasks, one per shard (Ray plumbing).

One detached actor per memory layout (``echoray-consolidator-<key>``, see ``storage_key``)
holds a ``ConsolidationScheduler``. Each shard's run is a Ray task (``run_shard``) in its
own worker process: it reads the shard's rows from LanceDB, plans, and applies every
change through the shard actor, so nothing heavy runs in the shard or on the request
path. A task killed half-way (its worker dies) fails its shard's part of the run; the
shard's lease is released and a repeated run finishes the work (the steps are
idempotent). Compaction is one more task.

The history and the interval's last start live in LanceDB (``RunStore``), so an actor
Ray restarts after a crash shows the runs before it, keeps the interval, and reports a run
it was in the middle of as interrupted (its tasks died with it; a new run finishes the
work).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import ray
from ray import serve

from echoray.config import EchoRayConfig
from echoray.embeddings import MINILM_DIMENSION, Embedder, make_embedder
from echoray.engines.base import ModelClient
from echoray.learning.consolidation import ShardConsolidation, ShardReport
from echoray.learning.run_store import RunStore
from echoray.learning.scheduler import ConsolidationScheduler
from echoray.learning.summarize import summarizer_for
from echoray.memory.api import ShardControl
from echoray.memory.records import utc_now
from echoray.serve.handles import ServeModelClient
from echoray.serve.names import NAMESPACE, consolidator_name, inference_deployment_name, shard_name
from echoray.serve.shard import ShardClient

log = logging.getLogger(__name__)


def _model_client(app_name: str | None) -> Callable[[str], ModelClient] | None:
    """A model's client by name, through the app's inference deployments (for
    ``summarize: model``); None outside a Serve app."""
    if app_name is None:
        return None

    def client(name: str) -> ModelClient:
        handle = serve.get_deployment_handle(inference_deployment_name(name), app_name=app_name)
        return ServeModelClient(name, handle)

    return client


def run_shard(
    config_json: dict[str, Any],
    index: int,
    run_id: str,
    tenant: str | None,
    app_name: str | None,
    namespace: str = NAMESPACE,
) -> dict[str, Any]:
    """The body of one shard's task (a plain function, so a test can call it too)."""
    from echoray.memory.store import LanceDBStore

    config = EchoRayConfig.model_validate(config_json)
    store = LanceDBStore(
        config.storage.uri, MINILM_DIMENSION, limits=config.memory, read_consistency_interval_s=0
    )
    handles = [
        ray.get_actor(shard_name(config, i), namespace=namespace)
        for i in range(config.memory.num_shards)
    ]
    embedder: Embedder | None = None

    async def embed(texts: list[str]) -> np.ndarray:
        nonlocal embedder
        if embedder is None:  # loaded only when there are turns to promote
            embedder = make_embedder(config.embeddings)
        return await asyncio.to_thread(embedder.embed, texts)

    consolidation = ShardConsolidation(
        store,
        ShardClient(handles),
        config.consolidation,
        embed=embed,
        summarize=summarizer_for(config, _model_client(app_name)),
    )
    report = asyncio.run(consolidation.run(index, run_id, tenant, utc_now()))
    return report.as_dict()


def compact_tables(config_json: dict[str, Any]) -> int:
    from echoray.memory.store import LanceDBStore

    config = EchoRayConfig.model_validate(config_json)
    store = LanceDBStore(config.storage.uri, MINILM_DIMENSION, limits=config.memory)
    return store.compact(config.consolidation.keep_versions_s)


class Consolidator:
    """The scheduler in an actor; shard runs and compaction are Ray tasks."""

    def __init__(
        self, config_json: dict[str, Any], app_name: str | None = None, namespace: str = NAMESPACE
    ) -> None:
        self._config_json = config_json
        self._app_name = app_name
        self._namespace = namespace
        self.config = EchoRayConfig.model_validate(config_json)
        self._tasks: dict[int, Any] = {}  # shard -> the ObjectRef of its running task
        # The tasks run beside the shards (memory.ray_resources): they read the same tables.
        num_cpus = self.config.consolidation.task_num_cpus
        resources = dict(self.config.memory.ray_resources)
        self._shard_task = ray.remote(num_cpus=num_cpus, resources=resources, max_retries=0)(
            run_shard
        )
        self._compact_task = ray.remote(num_cpus=num_cpus, resources=resources, max_retries=2)(
            compact_tables
        )
        self.scheduler = ConsolidationScheduler(
            self.config.memory.num_shards,
            self.config.consolidation,
            self._dispatch,
            compact=self._compact,
            pressure=self._pressure,
            store=RunStore(self.config.storage.uri, keep=self.config.consolidation.history),
        )
        self._started = False
        # Gateways ask a handle to start the schedule once; after a restart nobody asks
        # again, so the actor asks itself.
        ray.get_runtime_context().current_actor.ensure_started.remote()

    async def _dispatch(self, index: int, run_id: str, tenant: str | None) -> Any:
        ref = self._shard_task.remote(
            self._config_json, index, run_id, tenant, self._app_name, self._namespace
        )
        self._tasks[index] = ref
        try:
            result = await ref
        except BaseException:
            # A killed task cannot give the lease back; do it for it.
            await self._shard(index).end_consolidation(run_id, False)
            raise
        finally:
            self._tasks.pop(index, None)
        report = ShardReport(shard=index, users=result["users"], errors=result["errors"])
        report.counts.update(result["counts"])
        report.ms.update(result["ms"])
        return report

    async def _compact(self) -> int:
        return int(await self._compact_task.remote(self._config_json))

    async def _pressure(self, index: int) -> int:
        return await self._shard(index).consolidation_pressure()

    def _shard(self, index: int) -> ShardControl:
        handle = ray.get_actor(shard_name(self.config, index), namespace=self._namespace)
        return ShardClient([handle]).shard(0)

    async def ensure_started(self) -> bool:
        """Start the interval and threshold schedule (idempotent; called by gateways)."""
        if not self._started:
            self.scheduler.start_schedule()
            self._started = True
        return True

    async def consolidate(self, tenant: str | None = None, wait: bool = False) -> dict[str, Any]:
        """Start a run (of one tenant's users, or all); with ``wait``, return it finished."""
        run = await self.scheduler.start(tenant, reason="admin")
        if wait:
            await run.done.wait()
        return run.as_dict()

    async def wait(self, run_id: str, timeout_s: float | None = None) -> dict[str, Any] | None:
        run = await self.scheduler.wait(run_id, timeout_s)
        return None if run is None else run.as_dict()

    async def status(self) -> dict[str, Any]:
        return self.scheduler.status()

    async def kill_running_tasks(self) -> int:
        """Force-kill every running shard task's worker (what a crash does); for tests
        and for an operator who must stop a run at once. Returns how many were killed."""
        refs = list(self._tasks.values())
        for ref in refs:
            ray.cancel(ref, force=True)
        return len(refs)


def start_consolidator(
    config: EchoRayConfig, *, app_name: str | None = None, namespace: str = NAMESPACE
) -> Any:
    """Get or create the detached Consolidator actor (every gateway replica may call it)."""
    actor = ray.remote(Consolidator).options(  # type: ignore[attr-defined]
        name=consolidator_name(config),
        namespace=namespace,
        lifetime="detached",
        get_if_exists=True,
        max_restarts=-1,
        max_concurrency=16,
        num_cpus=0,
    )
    handle: Any = actor.remote(config.model_dump(mode="json"), app_name, namespace)
    return handle  # the actor starts its schedule itself


class RayConsolidation:
    """The gateway's view of the Consolidator actor (same methods as the scheduler's
    in-process ``LocalConsolidation``)."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self._started = False

    async def _ensure_started(self) -> None:
        if not self._started:
            await self._handle.ensure_started.remote()
            self._started = True

    async def consolidate(self, tenant: str | None, wait: bool) -> dict[str, Any]:
        await self._ensure_started()
        result: dict[str, Any] = await self._handle.consolidate.remote(tenant, wait)
        return result

    async def status(self) -> dict[str, Any]:
        await self._ensure_started()
        result: dict[str, Any] = await self._handle.status.remote()
        return result
