"""What the dashboard tests seed over HTTP: a user's memories (one of them old, so a
consolidation run archives it), another tenant's same-named user, and memory chats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

import httpx

KEYS: Final = {"sk-acme": "acme", "sk-other": "other"}
ADMIN_KEY: Final = "sk-admin"
TENANT, USER = "acme", "alice"
SESSION = "trip-1"
FACT = "My beagle Biscuit chews running shoes"
OLD = "an old note about a dentist appointment nobody read again"
MEMORIES: Final = [
    {"id": "biscuit", "text": FACT, "session": SESSION, "importance": 0.9},
    {"id": "lisbon", "text": "Alice lives in Lisbon", "session": SESSION, "importance": 0.6},
    {"id": "chef", "text": "Alice works as a pastry chef", "session": SESSION, "kind": "semantic"},
    {
        "id": "old",
        "text": OLD,
        "created_at": (datetime.now(UTC) - timedelta(days=800)).isoformat(),
        "importance": 0.1,
    },
]
QUESTION = "What does my beagle Biscuit chew?"


def config_args(folder: str) -> dict[str, Any]:
    """``fake_config`` overrides: auth on with two tenants and an admin, memory on disk."""
    return {
        "auth": {"enabled": True, "api_keys": KEYS, "admin_keys": [ADMIN_KEY]},
        "storage": {"uri": f"{folder}/db"},
        "memory": {"num_shards": 2, "group_commit_window_ms": 1},
        # Far above the defaults: a first recall on a loaded 2-core machine can pass them.
        "cognition": {"memory_deadline_ms": 2000, "pipeline_deadline_ms": 10_000},
    }


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def seed_memories(http: httpx.AsyncClient) -> None:
    """Alice's memories at tenant acme, and another tenant's alice with one of her own."""
    batch = {"user": USER, "memories": MEMORIES}
    stored = await http.post("/v1/memories/batch", json=batch, headers=bearer("sk-acme"))
    assert stored.status_code == 200, stored.text
    theirs = {"user": USER, "memories": [{"id": "theirs", "text": "another tenant's alice"}]}
    stored = await http.post("/v1/memories/batch", json=theirs, headers=bearer("sk-other"))
    assert stored.status_code == 200, stored.text


async def chat(http: httpx.AsyncClient, text: str = QUESTION) -> dict[str, Any]:
    body = {"model": "fake", "user": USER, "messages": [{"role": "user", "content": text}]}
    reply = await http.post("/v1/chat/completions", json=body, headers=bearer("sk-acme"))
    assert reply.status_code == 200, reply.text
    return reply.json()


async def consolidate(http: httpx.AsyncClient) -> dict[str, Any]:
    """One finished run over tenant acme: it archives the old note."""
    body = {"tenant": TENANT, "wait": True}
    run = await http.post("/v1/admin/consolidate", json=body, headers=bearer(ADMIN_KEY))
    assert run.status_code == 200, run.text
    return run.json()
