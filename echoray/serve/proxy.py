"""The one request id under Serve: a middleware for Serve's HTTP proxy (serve layer).

Serve's proxy honours a client's ``x-request-id`` as it comes, malformed or not, and echoes
it. Run before the proxy's own id middleware, this replaces a missing or malformed id with
a fresh one, so the proxy, the replica, the response body and the logs all use the same,
well-formed id. Serve loads it from ``RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH`` in the
proxy's process: ``echoray serve`` and the test cluster set it before Ray starts, and the
KubeRay manifests set it on every Ray container.
"""

from __future__ import annotations

import os

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from echoray.api.middleware import request_id_from

PROXY_CALLBACK_ENV = "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH"
PROXY_CALLBACK = "echoray.serve.proxy:proxy_middlewares"


class WellFormedRequestId:
    """Rewrites the request's ``x-request-id`` header to exactly one well-formed id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            given = [v.decode("latin-1") for k, v in headers if k.lower() == b"x-request-id"]
            rid = request_id_from(given[0] if len(given) == 1 else None)
            scope["headers"] = [(k, v) for k, v in headers if k.lower() != b"x-request-id"] + [
                (b"x-request-id", rid.encode())
            ]
        await self.app(scope, receive, send)


def proxy_middlewares() -> list[Middleware]:
    """What Serve's proxy calls (``PROXY_CALLBACK``) for its extra middlewares."""
    return [Middleware(WellFormedRequestId)]


def use_echoray_proxy_middlewares() -> None:
    """Make Ray processes started from here load them (a cluster started elsewhere needs
    the variable in its own environment)."""
    os.environ.setdefault(PROXY_CALLBACK_ENV, PROXY_CALLBACK)
