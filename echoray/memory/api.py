"""The typed shard API (memory layer, plain Python): how everything else reaches a shard.

A (tenant, user) is owned by one shard. ``Shards.for_user(tenant, user)`` returns that
user's ``ShardAPI``: every call acts for them (``shard.apply_feedback(...)``), so neither
the tenant nor the user is passed again, and mypy checks each call. ``Shards.shard(i)``
returns the shard-wide ``ShardControl`` (consolidation leases, tenant-wide lookups).

Two implementations route the same calls: ``LocalShards`` (``echoray.services.local``)
over in-process ``MemoryShardCore``s, and ``ShardClient`` (``echoray.serve.shard``) over
the Ray actors. Both end in ``MemoryShardCore``, whose method of the same name takes the
tenant and the user first (``tests/unit/memory/test_shard_api.py`` checks that every
method here has its counterpart there).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, cast

import numpy as np

from echoray.memory.records import (
    AppendResult,
    ArchivedMemory,
    ChatRecall,
    Experience,
    Link,
    MemoryFilter,
    MemoryPatch,
    MemoryRecord,
    Merged,
    Page,
    Pattern,
    SearchHit,
    Turn,
    TurnRole,
)


class ShardAPI(Protocol):
    """One user's memory on the shard that owns it."""

    # --- memories ----------------------------------------------------------------------
    async def add(self, records: Sequence[MemoryRecord]) -> AppendResult: ...
    async def search(
        self, flt: MemoryFilter, query_vector: np.ndarray, query_text: str | None, limit: int
    ) -> list[SearchHit]: ...
    async def get(self, memory_id: str) -> MemoryRecord: ...
    async def list_page(self, limit: int, cursor: str | None) -> Page: ...
    async def count(self) -> int: ...
    async def update(self, memory_id: str, patch: MemoryPatch) -> MemoryRecord: ...
    async def delete(self, memory_id: str) -> None: ...
    async def delete_user(self) -> int: ...
    async def links(self, memory_id: str) -> list[Link]: ...
    async def speakers(self) -> list[str]: ...

    # --- sessions and the cognitive pipeline -------------------------------------------
    async def add_turns(self, turns: Sequence[Turn]) -> None: ...
    async def recent_turns(self, session: str, n: int | None) -> list[Turn]: ...
    async def recall_for_chat(
        self, session: str | None, vector: np.ndarray, text: str, limit: int, turns: int
    ) -> ChatRecall: ...
    async def capture(
        self,
        experience: Experience,
        memory: MemoryRecord | None,
        turns: Sequence[tuple[TurnRole, str]],
        used: Sequence[str],
    ) -> None: ...
    async def apply_feedback(
        self,
        experience_id: str,
        score: float,
        comment: str | None,
        step: float,
        at: datetime,
    ) -> tuple[Experience, int]: ...

    # --- consolidation (a run plans, the shard applies) --------------------------------
    async def merge_memories(self, merges: list[Merged], links: list[Link]) -> int: ...
    async def archive_memories(
        self, ids: list[str], reason: str, unused_since: datetime | None
    ) -> list[str]: ...
    async def restore_memories(self, ids: list[str], at: datetime) -> list[MemoryRecord]: ...
    async def list_archive(self, limit: int) -> list[ArchivedMemory]: ...
    async def link_memories(self, links: list[Link]) -> int: ...
    async def set_patterns(self, patterns: list[Pattern]) -> None: ...


class ShardControl(Protocol):
    """One shard as a whole."""

    async def ping(self) -> int: ...
    async def begin_consolidation(self, run_id: str, lease_s: float) -> bool: ...
    async def end_consolidation(self, run_id: str, completed: bool) -> None: ...
    async def consolidation_pressure(self) -> int: ...
    async def find_experience(self, tenant: str, experience_id: str) -> Experience: ...
    async def stats(self) -> dict[str, int | None]: ...


class Shards(Protocol):
    """Every shard of one memory layout, routed by (tenant, user)."""

    @property
    def num_shards(self) -> int: ...
    def for_user(self, tenant: str, user: str) -> ShardAPI: ...
    def shard(self, index: int) -> ShardControl: ...


def _methods(protocol: type) -> frozenset[str]:
    return frozenset(
        name
        for name, member in vars(protocol).items()
        if not name.startswith("_") and inspect.iscoroutinefunction(member)
    )


USER_METHODS = _methods(ShardAPI)
CONTROL_METHODS = _methods(ShardControl)
SHARD_METHODS = USER_METHODS | CONTROL_METHODS

# How a routed call is sent: the method's name and its arguments.
Send = Callable[[str, tuple[Any, ...]], Awaitable[Any]]


async def invoke(target: object, method: str, args: tuple[Any, ...]) -> Any:
    """Call ``target.method(*args)``, awaiting it when it is a coroutine; only the methods
    of the shard API may be called (the actor's one entry point uses this)."""
    if method not in SHARD_METHODS:
        raise AttributeError(f"{method!r} is not a method of the shard API")
    result = getattr(target, method)(*args)
    return await result if inspect.isawaitable(result) else result


class _Bound:
    """Calls of one user's ``ShardAPI`` sent with the tenant and the user first."""

    def __init__(self, send: Send, prefix: tuple[Any, ...], methods: frozenset[str]) -> None:
        self._send = send
        self._prefix = prefix
        self._names = methods

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        if name not in self._names:
            raise AttributeError(name)

        async def call(*args: Any) -> Any:
            return await self._send(name, (*self._prefix, *args))

        return call


def bind_user(send: Send, tenant: str, user: str) -> ShardAPI:
    """The ``ShardAPI`` of (tenant, user) over ``send``."""
    return cast(ShardAPI, _Bound(send, (tenant, user), USER_METHODS))


def bind_control(send: Send) -> ShardControl:
    """The ``ShardControl`` of one shard over ``send``."""
    return cast(ShardControl, _Bound(send, (), CONTROL_METHODS))
