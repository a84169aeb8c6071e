"""``EchoRay`` and ``AsyncEchoRay``: the Python client for chat and memory (client layer).

Chat goes through the official ``openai`` client (``.chat`` is an ``openai.OpenAI``), so
everything OpenAI's client does works here; the memory API is called with httpx. Errors
come back as the same ``echoray.errors`` types the server raised (by HTTP status), with
the server's message.

    from echoray.client import EchoRay

    with EchoRay("http://127.0.0.1:8000", api_key="sk-…") as er:
        er.memories.add("alice", "Alice's sister lives in Lisbon")
        hits = er.memories.search("alice", "where does her sister live?")
        reply = er.chat.chat.completions.create(model="smollm2-135m-instruct", user="alice",
                                                 messages=[{"role": "user", "content": "Hi"}])
"""

from __future__ import annotations

from typing import Any

import httpx

from echoray import errors

_BY_STATUS: dict[int, type[errors.EchoRayError]] = {
    400: errors.InvalidRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    409: errors.ConflictError,
    413: errors.PayloadTooLargeError,
    422: errors.UnprocessableEntityError,
    429: errors.RateLimitError,
    503: errors.ServiceUnavailableError,
}


def _raise_for(response: httpx.Response) -> Any:
    if response.is_success:
        return response.json()
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        error = {"message": response.text or response.reason_phrase}
    cls = _BY_STATUS.get(response.status_code, errors.EchoRayError)
    retry_after = response.headers.get("retry-after")
    raise cls(
        str(error.get("message")),
        param=error.get("param"),
        code=error.get("code"),
        retry_after=float(retry_after) if retry_after else None,
    )


def _memory_body(user: str, text: str, **fields: Any) -> dict[str, Any]:
    return {"user": user, "text": text, **{k: v for k, v in fields.items() if v is not None}}


class Memories:
    """``/v1/memories`` over a synchronous httpx client."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def add(self, user: str, text: str, **fields: Any) -> dict[str, Any]:
        """Store one memory (fields: id, session, kind, created_at, importance, pinned,
        metadata). Returns the stored memory."""
        return _raise_for(self._http.post("/v1/memories", json=_memory_body(user, text, **fields)))

    def add_batch(self, user: str, memories: list[dict[str, Any]]) -> dict[str, Any]:
        return _raise_for(
            self._http.post("/v1/memories/batch", json={"user": user, "memories": memories})
        )

    def search(
        self, user: str, query: str, limit: int = 10, **filters: Any
    ) -> list[dict[str, Any]]:
        body = {"user": user, "query": query, "limit": limit, "filters": filters}
        return list(_raise_for(self._http.post("/v1/memories/search", json=body))["results"])

    def list_page(self, user: str, limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"user": user, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        return _raise_for(self._http.get("/v1/memories", params=params))

    def get(self, user: str, memory_id: str) -> dict[str, Any]:
        return _raise_for(self._http.get(f"/v1/memories/{memory_id}", params={"user": user}))

    def update(self, user: str, memory_id: str, **changes: Any) -> dict[str, Any]:
        body = {"user": user, **changes}
        return _raise_for(self._http.patch(f"/v1/memories/{memory_id}", json=body))

    def delete(self, user: str, memory_id: str) -> dict[str, Any]:
        return _raise_for(self._http.delete(f"/v1/memories/{memory_id}", params={"user": user}))

    def forget_user(self, user: str) -> int:
        return int(_raise_for(self._http.delete("/v1/memories", params={"user": user}))["deleted"])

    def links(self, user: str, memory_id: str) -> list[dict[str, Any]]:
        response = self._http.get(f"/v1/memories/{memory_id}/links", params={"user": user})
        return list(_raise_for(response)["links"])

    def archived(self, user: str, limit: int = 20) -> list[dict[str, Any]]:
        """The user's most recently archived (forgotten or merged) memories."""
        params: dict[str, Any] = {"user": user, "limit": limit}
        return list(_raise_for(self._http.get("/v1/memories/archive", params=params))["data"])

    def restore(self, user: str, memory_id: str) -> dict[str, Any]:
        """Bring an archived memory back; returns it."""
        body = {"user": user}
        return _raise_for(self._http.post(f"/v1/memories/{memory_id}/restore", json=body))


class Admin:
    """``/v1/admin`` (needs an admin key when auth is on)."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def consolidate(
        self, tenant: str | None = None, *, wait: bool = True, timeout: float = 600
    ) -> dict[str, Any]:
        """Run consolidation (one tenant's users, or all); with ``wait``, the finished run
        with its counts per step, else the started run."""
        body = {"tenant": tenant, "wait": wait}
        response = self._http.post("/v1/admin/consolidate", json=body, timeout=timeout)
        return _raise_for(response)

    def consolidation(self) -> dict[str, Any]:
        """Running runs, history (newest first) and totals."""
        return _raise_for(self._http.get("/v1/admin/consolidation"))


class AsyncMemories:
    """``/v1/memories`` over an asynchronous httpx client."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def add(self, user: str, text: str, **fields: Any) -> dict[str, Any]:
        body = _memory_body(user, text, **fields)
        return _raise_for(await self._http.post("/v1/memories", json=body))

    async def add_batch(self, user: str, memories: list[dict[str, Any]]) -> dict[str, Any]:
        body = {"user": user, "memories": memories}
        return _raise_for(await self._http.post("/v1/memories/batch", json=body))

    async def search(
        self, user: str, query: str, limit: int = 10, **filters: Any
    ) -> list[dict[str, Any]]:
        body = {"user": user, "query": query, "limit": limit, "filters": filters}
        return list(_raise_for(await self._http.post("/v1/memories/search", json=body))["results"])

    async def list_page(
        self, user: str, limit: int = 20, cursor: str | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"user": user, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        return _raise_for(await self._http.get("/v1/memories", params=params))

    async def get(self, user: str, memory_id: str) -> dict[str, Any]:
        response = await self._http.get(f"/v1/memories/{memory_id}", params={"user": user})
        return _raise_for(response)

    async def update(self, user: str, memory_id: str, **changes: Any) -> dict[str, Any]:
        body = {"user": user, **changes}
        return _raise_for(await self._http.patch(f"/v1/memories/{memory_id}", json=body))

    async def delete(self, user: str, memory_id: str) -> dict[str, Any]:
        response = await self._http.delete(f"/v1/memories/{memory_id}", params={"user": user})
        return _raise_for(response)

    async def forget_user(self, user: str) -> int:
        response = await self._http.delete("/v1/memories", params={"user": user})
        return int(_raise_for(response)["deleted"])

    async def links(self, user: str, memory_id: str) -> list[dict[str, Any]]:
        response = await self._http.get(f"/v1/memories/{memory_id}/links", params={"user": user})
        return list(_raise_for(response)["links"])

    async def archived(self, user: str, limit: int = 20) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"user": user, "limit": limit}
        response = await self._http.get("/v1/memories/archive", params=params)
        return list(_raise_for(response)["data"])

    async def restore(self, user: str, memory_id: str) -> dict[str, Any]:
        body = {"user": user}
        return _raise_for(await self._http.post(f"/v1/memories/{memory_id}/restore", json=body))


class AsyncAdmin:
    """``/v1/admin`` over an asynchronous httpx client."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def consolidate(
        self, tenant: str | None = None, *, wait: bool = True, timeout: float = 600
    ) -> dict[str, Any]:
        body = {"tenant": tenant, "wait": wait}
        response = await self._http.post("/v1/admin/consolidate", json=body, timeout=timeout)
        return _raise_for(response)

    async def consolidation(self) -> dict[str, Any]:
        return _raise_for(await self._http.get("/v1/admin/consolidation"))


class EchoRay:
    """Synchronous client: ``.chat`` (an ``openai.OpenAI``), ``.memories``, ``.admin`` and
    ``.feedback``."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str = "none",
        *,
        timeout: float = 120,
        transport: httpx.BaseTransport | None = None,
        chat_http_client: Any = None,
    ) -> None:
        from openai import OpenAI

        headers = {"authorization": f"Bearer {api_key}"}
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )
        self.memories = Memories(self._http)
        self.admin = Admin(self._http)
        # openai brings its own HTTP stack; tests may hand it a client over a test transport.
        self.chat = OpenAI(
            base_url=f"{base_url.rstrip('/')}/v1", api_key=api_key, http_client=chat_http_client
        )

    def feedback(
        self, request_id: str, score: float, *, user: str, comment: str | None = None
    ) -> dict[str, Any]:
        """Rate an answer (score in [-1, 1]) by its response id (``reply.id``), as the
        ``user`` the chat named; the memories it used gain or lose strength. Returns how
        many changed."""
        body = {"request_id": request_id, "user": user, "score": score, "comment": comment}
        return _raise_for(self._http.post("/v1/feedback", json=body))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EchoRay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncEchoRay:
    """Asynchronous client: ``.chat`` (an ``openai.AsyncOpenAI``), ``.memories``, ``.admin``."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str = "none",
        *,
        timeout: float = 120,
        transport: httpx.AsyncBaseTransport | None = None,
        chat_http_client: Any = None,
    ) -> None:
        from openai import AsyncOpenAI

        headers = {"authorization": f"Bearer {api_key}"}
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )
        self.memories = AsyncMemories(self._http)
        self.admin = AsyncAdmin(self._http)
        self.chat = AsyncOpenAI(
            base_url=f"{base_url.rstrip('/')}/v1", api_key=api_key, http_client=chat_http_client
        )

    async def feedback(
        self, request_id: str, score: float, *, user: str, comment: str | None = None
    ) -> dict[str, Any]:
        body = {"request_id": request_id, "user": user, "score": score, "comment": comment}
        return _raise_for(await self._http.post("/v1/feedback", json=body))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncEchoRay:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
