"""Pure ASGI middleware (streaming-safe): request id, body size limit, metrics.

Written against raw ASGI rather than ``BaseHTTPMiddleware`` so streamed responses pass
through untouched and cancellation reaches the route when a client disconnects.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from echoray.api.errors import OLLAMA_PREFIX
from echoray.services.metrics import GatewayMetrics

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id_from(header_value: str | None) -> str:
    """Honour a well-formed ``x-request-id``; otherwise make one."""
    if header_value and _REQUEST_ID.match(header_value):
        return header_value
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Sets ``request.state.request_id``, echoes it, enforces the body limit, and
    records request metrics by route template.

    Behind Serve (``echo_request_id=False``) the proxy has already made the id well-formed
    (``echoray.serve.proxy``) and echoes it itself, so the app sends none."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, metrics: GatewayMetrics, echo_request_id: bool
    ) -> None:
        self.app = app
        self.echo_request_id = echo_request_id
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        rid = request_id_from(headers.get("x-request-id"))
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 500
        self.metrics.in_flight.inc()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            if message["type"] == "http.response.start":
                # Exactly one x-request-id: ours, or none when Serve's proxy adds it.
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                if self.echo_request_id:
                    headers.append((b"x-request-id", rid.encode()))
                message["headers"] = headers
            await send(message)

        try:
            length = headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
                await _send_too_large(send_with_id, self.max_body_bytes, scope["path"])
                return
            await self.app(scope, _limited(receive, self.max_body_bytes), send_with_id)
        finally:
            self.metrics.in_flight.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(
                template, scope["method"], status, time.perf_counter() - started
            )


def too_large_message(limit: int) -> str:
    return f"Request body is larger than the limit of {limit} bytes."


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def receive_limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                # An HTTPException survives FastAPI's body parsing and maps to 413 JSON.
                raise HTTPException(413, detail=too_large_message(limit))
        return message

    return receive_limited


async def _send_too_large(send: Send, limit: int, path: str) -> None:
    message = too_large_message(limit)
    error: dict[str, Any] = {
        "message": message,
        "type": "invalid_request_error",
        "param": None,
        "code": "payload_too_large",
    }
    body = json.dumps({"error": message if path.startswith(OLLAMA_PREFIX) else error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
