"""``/v1/admin/…`` routes (API layer): consolidation, for holders of an admin key.

With auth on, these need a key listed in ``auth.admin_keys`` (403 otherwise); with auth
off (the local default) they are open like everything else.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from echoray.api.auth import Authenticator
from echoray.learning.scheduler import ConsolidationControl
from echoray.protocol.memory import ConsolidateRequest


def admin_router(control: ConsolidationControl, authenticator: Authenticator) -> APIRouter:
    async def require_admin(request: Request) -> None:
        authenticator.require_admin(request.headers.get("authorization"))

    router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_admin)])

    @router.post(
        "/consolidate",
        responses={202: {"description": "The run started (`wait: false`); poll the status."}},
    )
    async def consolidate(body: ConsolidateRequest) -> JSONResponse:
        """Start a consolidation run: 202 with the run while it works, 200 with
        ``wait: true`` once it finished."""
        run = await control.consolidate(body.tenant, body.wait)
        return JSONResponse(run, status_code=200 if body.wait else 202)

    @router.get("/consolidation")
    async def consolidation() -> dict[str, Any]:
        """Status: running runs, finished ones (newest first) with counts per step, and
        totals since the scheduler started."""
        return await control.status()

    return router
