"""``/v1/memories…`` routes (API layer) over a ``MemoryService``.

The tenant comes from the API key (the ``tenant`` dependency); ``user`` is required in
every call, as a query parameter or in the body.
"""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from echoray.protocol.ids import IDENTIFIER_SCHEMA
from echoray.protocol.memory import (
    ArchiveList,
    DeletedResponse,
    LinksResponse,
    MemoryBatchRequest,
    MemoryBatchResponse,
    MemoryCreateRequest,
    MemoryList,
    MemoryOut,
    MemoryPatchRequest,
    MemoryRestoreRequest,
    MemorySearchRequest,
    MemorySearchResponse,
)
from echoray.services.memories import MemoryService

User = Annotated[
    str, Query(pattern=IDENTIFIER_SCHEMA, description="The user the memories belong to.")
]


def memory_router(
    service: MemoryService, authenticate: Callable[..., Coroutine[Any, Any, str]]
) -> APIRouter:
    """The memory endpoints, every one scoped by the caller's tenant."""
    Tenant = Annotated[str, Depends(authenticate)]
    router = APIRouter(prefix="/v1/memories", tags=["memories"])

    @router.post("", status_code=201)
    async def create(body: MemoryCreateRequest, tenant: Tenant) -> MemoryOut:
        return await service.create(tenant, body)

    @router.post("/batch")
    async def create_batch(body: MemoryBatchRequest, tenant: Tenant) -> MemoryBatchResponse:
        return await service.create_batch(tenant, body)

    @router.post("/search")
    async def search(body: MemorySearchRequest, tenant: Tenant) -> MemorySearchResponse:
        return await service.search(tenant, body)

    @router.get("")
    async def list_memories(
        tenant: Tenant,
        user: User,
        limit: Annotated[int, Query(ge=1)] = 20,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
    ) -> MemoryList:
        return await service.list_memories(tenant, user, limit, cursor)

    @router.delete("")
    async def forget_user(tenant: Tenant, user: User) -> DeletedResponse:
        return await service.delete_user(tenant, user)

    @router.get("/archive")
    async def archived(
        tenant: Tenant, user: User, limit: Annotated[int, Query(ge=1)] = 20
    ) -> ArchiveList:
        return await service.archived(tenant, user, limit)

    @router.post("/{memory_id}/restore")
    async def restore(memory_id: str, body: MemoryRestoreRequest, tenant: Tenant) -> MemoryOut:
        return await service.restore(tenant, memory_id, body.user)

    @router.get("/{memory_id}")
    async def get(memory_id: str, tenant: Tenant, user: User) -> MemoryOut:
        return await service.get(tenant, user, memory_id)

    @router.patch("/{memory_id}")
    async def update(memory_id: str, body: MemoryPatchRequest, tenant: Tenant) -> MemoryOut:
        return await service.update(tenant, memory_id, body)

    @router.delete("/{memory_id}")
    async def delete(memory_id: str, tenant: Tenant, user: User) -> DeletedResponse:
        return await service.delete(tenant, user, memory_id)

    @router.get("/{memory_id}/links")
    async def links(memory_id: str, tenant: Tenant, user: User) -> LinksResponse:
        return await service.links(tenant, user, memory_id)

    return router
