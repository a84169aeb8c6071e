"""``make_app``: the gateway's FastAPI application over the services (API layer).

No Ray here: the Serve gateway builds this same app over ``make_services`` with
deployment-handle clients, and tests build it with in-process clients
(``echoray.api.local``) behind ``httpx.ASGITransport``.
"""

from fastapi import FastAPI

from echoray import __version__
from echoray.api.auth import Authenticator
from echoray.api.errors import install_error_handlers
from echoray.api.middleware import RequestContextMiddleware
from echoray.api.openapi import install_openapi
from echoray.api.routes.admin import admin_router
from echoray.api.routes.dashboard import dashboard_router, page_router
from echoray.api.routes.health import health_router
from echoray.api.routes.memories import memory_router
from echoray.api.routes.ollama import ollama_router
from echoray.api.routes.openai import openai_router
from echoray.config import EchoRayConfig
from echoray.services.wiring import Services


def make_app(services: Services, config: EchoRayConfig, *, echo_request_id: bool = True) -> FastAPI:
    """Build the HTTP app. Behind Ray Serve, set ``echo_request_id=False``: Serve's proxy
    already honours and echoes ``x-request-id`` (and passes it to us), so echoing again
    would duplicate it."""
    authenticator = Authenticator(config.auth)
    app = FastAPI(title="echoray", version=__version__)
    app.state.chat_memory = services.memory_chat  # tests and shutdown wait on its captures
    install_error_handlers(app, services.metrics)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=config.limits.max_body_bytes,
        metrics=services.metrics,
        echo_request_id=echo_request_id,
    )
    app.include_router(health_router(services))
    app.include_router(openai_router(services, authenticator))
    app.include_router(ollama_router(services, authenticator))
    if services.memories is not None:
        app.include_router(memory_router(services.memories, authenticator))
    if services.consolidation is not None:
        app.include_router(admin_router(services.consolidation, authenticator))
    app.include_router(page_router())
    if services.memories is not None:
        app.include_router(dashboard_router(services, authenticator))
    install_openapi(app)
    return app
