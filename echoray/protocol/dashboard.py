"""Wire models of the dashboard's data endpoints (protocol layer): ``/v1/admin/dashboard/…``.

An admin names the tenant and user in each call (an admin key has no tenant of its own);
both follow the identifier rule of ``echoray.protocol.ids``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from echoray.protocol.ids import IDENTIFIER_SCHEMA
from echoray.protocol.memory import LinkOut, MemoryOut, _Strict


class DashboardMemory(MemoryOut):
    score: float | None = Field(None, description="The search score; null when listing.")


class DashboardMemories(BaseModel):
    object: Literal["list"] = "list"
    data: list[DashboardMemory]
    next_cursor: str | None


class GraphNode(BaseModel):
    id: str
    text: str
    kind: str
    importance: float
    strength: float
    depth: int = Field(..., description="Links from the centre: 0 is the centre itself.")


class LinkGraph(BaseModel):
    """The memories within ``depth`` links of ``center`` and the links between them."""

    center: str
    nodes: list[GraphNode]
    links: list[LinkOut]
    truncated: bool = Field(False, description="More memories were in reach than shown.")


class ChatTrace(BaseModel):
    """One recent memory chat of this gateway replica and its ``echo`` trace."""

    request_id: str
    at: str
    model: str
    query: str
    answer: str
    trace: dict[str, Any]


class ChatTraces(BaseModel):
    object: Literal["list"] = "list"
    data: list[ChatTrace]


class ConsolidationView(BaseModel):
    """Consolidation as one tenant sees it: its runs and the runs over every tenant."""

    enabled: bool
    next_run_at: str | None
    running: list[dict[str, Any]]
    history: list[dict[str, Any]]
    totals: dict[str, Any]


class DashboardRestoreRequest(_Strict):
    tenant: str = Field(..., pattern=IDENTIFIER_SCHEMA)
    user: str = Field(..., pattern=IDENTIFIER_SCHEMA)
