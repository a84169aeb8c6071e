"""``RecentTraces``: the last memory chats of this gateway process, with their traces
(application tier, plain Python), for the operator's dashboard.

The experiences table keeps what a chat recalled (memory ids) but not why, nor the stage
timings, so the gateway keeps a small ring of recent traces in memory: at most
``capacity`` chats in all (oldest dropped first), read back per tenant and user. It is
lost on restart, and under Ray Serve each gateway replica keeps its own ring: the
dashboard shows the chats that the replica answering it served.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from typing import Any

ANSWER_CHARS = 500  # what the dashboard shows of an answer; the trace itself is kept whole


class RecentTraces:
    """A bounded ring of ``{tenant, user, request_id, at, model, query, answer, trace}``."""

    def __init__(self, capacity: int = 500) -> None:
        self._ring: deque[dict[str, Any]] = deque(maxlen=capacity)

    def add(
        self,
        *,
        tenant: str,
        user: str,
        request_id: str,
        model: str,
        query: str,
        answer: str,
        trace: dict[str, Any],
    ) -> None:
        self._ring.append(
            {
                "tenant": tenant,
                "user": user,
                "request_id": request_id,
                "at": datetime.now(UTC).isoformat(),
                "model": model,
                "query": query,
                "answer": answer[:ANSWER_CHARS],
                "trace": trace,
            }
        )

    def recent(self, tenant: str, user: str, limit: int) -> list[dict[str, Any]]:
        """The user's last ``limit`` chats, newest first."""
        found: list[dict[str, Any]] = []
        for entry in reversed(self._ring):
            if entry["tenant"] == tenant and entry["user"] == user:
                found.append(entry)
                if len(found) == limit:
                    break
        return found
