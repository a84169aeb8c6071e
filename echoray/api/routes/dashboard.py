"""The operator's dashboard (API layer): the page at ``/dashboard`` and its data under
``/v1/admin/dashboard/…``.

The page is three static files shipped in the package (``echoray/api/static``): no CDN,
nothing fetched from elsewhere, which its Content-Security-Policy enforces. It holds no
data; it asks for an admin key, a tenant and a user, and calls the data endpoints with the
key, which (like every admin route) need a key listed in ``auth.admin_keys``.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from echoray.api.auth import Authenticator
from echoray.errors import NotFoundError
from echoray.protocol.dashboard import (
    ChatTraces,
    ConsolidationView,
    DashboardMemories,
    DashboardRestoreRequest,
    LinkGraph,
)
from echoray.protocol.ids import IDENTIFIER_SCHEMA
from echoray.protocol.memory import ArchiveList, MemoryOut
from echoray.services.dashboard import DashboardService
from echoray.services.figures import live_figures
from echoray.services.scrape import refresh_scrape_metrics
from echoray.services.wiring import Services

# What the page may load: its own files and its own API, nothing else.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}

Tenant = Annotated[
    str, Query(pattern=IDENTIFIER_SCHEMA, description="The tenant the user belongs to.")
]
User = Annotated[str, Query(pattern=IDENTIFIER_SCHEMA, description="The user to show.")]
Limit = Annotated[int, Query(ge=1)]


def page_router() -> APIRouter:
    """The page and its two assets; public, as they hold nothing but code."""
    router = APIRouter(include_in_schema=False)

    @router.get("/dashboard")
    async def page() -> Response:
        return _asset("index.html")

    @router.get("/dashboard/{name}")
    async def asset(name: str) -> Response:
        if name not in _ASSETS or name == "index.html":
            raise NotFoundError(f"no dashboard file {name!r}", code="not_found")
        return _asset(name)

    return router


def dashboard_router(services: Services, authenticator: Authenticator) -> APIRouter:
    """The data endpoints; ``services.memories`` must be set (the app adds this router
    only with memory on)."""
    assert services.memories is not None
    dashboard = DashboardService(services.memories, services.traces, services.consolidation)

    async def require_admin(request: Request) -> None:
        authenticator.require_admin(request.headers.get("authorization"))

    router = APIRouter(
        prefix="/v1/admin/dashboard", tags=["dashboard"], dependencies=[Depends(require_admin)]
    )

    @router.get("/memories")
    async def memories(
        tenant: Tenant,
        user: User,
        query: Annotated[str | None, Query(max_length=8192)] = None,
        limit: Limit = 50,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
    ) -> DashboardMemories:
        """The user's memories, a page at a time, or (with ``query``) the best matches."""
        return await dashboard.memories(tenant, user, query, limit, cursor)

    @router.get("/graph")
    async def graph(
        tenant: Tenant,
        user: User,
        memory: Annotated[str, Query(pattern=IDENTIFIER_SCHEMA, description="The centre.")],
        depth: Annotated[int, Query(ge=1, le=2)] = 1,
    ) -> LinkGraph:
        """The link graph around one memory, ``depth`` links deep."""
        return await dashboard.graph(tenant, user, memory, depth)

    @router.get("/traces")
    async def traces(
        tenant: Tenant, user: User, limit: Annotated[int, Query(ge=1, le=100)] = 20
    ) -> ChatTraces:
        """The user's last memory chats that this gateway replica answered, newest first,
        with their traces (what was recalled, why, stage timings)."""
        return dashboard.traces(tenant, user, limit)

    @router.get("/archive")
    async def archive(tenant: Tenant, user: User, limit: Limit = 50) -> ArchiveList:
        """The user's most recently archived memories (forgotten or merged)."""
        return await dashboard.archived(tenant, user, limit)

    @router.post("/archive/{memory_id}/restore")
    async def restore(memory_id: str, body: DashboardRestoreRequest) -> MemoryOut:
        """Bring an archived memory back into the user's working set."""
        return await dashboard.restore(body.tenant, body.user, memory_id)

    @router.get("/consolidation")
    async def consolidation(tenant: Tenant) -> ConsolidationView:
        """Consolidation runs over this tenant (or every tenant), newest first."""
        return await dashboard.consolidation(tenant)

    @router.get("/figures")
    async def figures() -> dict[str, Any]:
        """Live service figures from the same registry as ``/metrics``, refreshed first."""
        await refresh_scrape_metrics(services)
        return live_figures(services.metrics.registry)

    return router


def _asset(name: str) -> Response:
    body = resources.files("echoray.api").joinpath("static", name).read_bytes()
    headers = {"cache-control": "no-cache"}
    if name == "index.html":
        headers["content-security-policy"] = _CSP
    return Response(body, media_type=_ASSETS[name], headers=headers)
