"""``/healthz``, ``/readyz`` and ``/metrics`` (API layer)."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from echoray.services.scrape import refresh_scrape_metrics
from echoray.services.wiring import Services


def health_router(services: Services) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        models = await services.chat.readiness()
        if services.embeddings is not None:
            models[services.embeddings.model_name] = await services.embeddings.is_ready()
        if services.memory_chat is not None:
            models["cognition"] = await services.memory_chat.is_ready()
        ready = all(models.values())
        return JSONResponse(
            {"status": "ready" if ready else "loading", "models": models},
            status_code=200 if ready else 503,
            headers=None if ready else {"retry-after": "2"},
        )

    # Prometheus' text format, documented as such (not FastAPI's default JSON).
    @router.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        await refresh_scrape_metrics(services)  # engines, shards, consolidation: fresh
        return Response(
            services.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    return router
