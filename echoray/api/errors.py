"""The one place errors become HTTP: OpenAI's ``{"error": {...}}`` JSON and SSE events,
and, under ``/api/`` (Ollama's API), Ollama's ``{"error": "..."}`` with a 400 where
OpenAI's would be a 422.

Malformed JSON is a 400; a body that parses but breaks the schema is a 422 naming the
field. Unknown exceptions become a 500 that carries the request id; the traceback is
logged, never sent.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from echoray.errors import EchoRayError, unwrap_remote
from echoray.services.metrics import GatewayMetrics

log = logging.getLogger(__name__)


def error_body(
    message: str, error_type: str, param: str | None = None, code: Any = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


unwrap = unwrap_remote  # kept under the short name the serve layer uses


def to_response(exc: BaseException, request_id: str) -> JSONResponse:
    exc = unwrap(exc)
    if isinstance(exc, EchoRayError):
        headers = {"x-request-id": request_id}
        if exc.retry_after is not None:
            headers["retry-after"] = str(max(1, round(exc.retry_after)))
        return JSONResponse({"error": exc.to_dict()}, status_code=exc.status_code, headers=headers)
    log.error("unhandled error in request %s", request_id, exc_info=exc)
    return JSONResponse(
        error_body(f"Internal server error (request id {request_id})", "internal_error"),
        status_code=500,
        headers={"x-request-id": request_id},
    )


def sse_error(exc: BaseException, request_id: str) -> bytes:
    """The SSE event sent when a stream fails after its first byte."""
    exc = unwrap(exc)
    if isinstance(exc, EchoRayError):
        body = {"error": exc.to_dict()}
    else:
        log.error("stream failed in request %s", request_id, exc_info=exc)
        body = error_body(f"Internal server error (request id {request_id})", "internal_error")
    return f"data: {json.dumps(body)}\n\n".encode()


OLLAMA_PREFIX = "/api/"


def ollama_error_line(exc: BaseException) -> bytes:
    """The NDJSON line sent when an Ollama stream fails after its first line."""
    exc = unwrap(exc)
    if isinstance(exc, EchoRayError):
        message = exc.message
    else:
        log.error("Ollama stream failed", exc_info=exc)
        message = "internal server error"
    return (json.dumps({"error": message}) + "\n").encode()


def shaped_for(path: str, response: JSONResponse) -> JSONResponse:
    """``response`` as the API of ``path`` shapes errors: Ollama's under ``/api/``."""
    if not path.startswith(OLLAMA_PREFIX):
        return response
    message = json.loads(bytes(response.body))["error"]["message"]
    status = 400 if response.status_code == 422 else response.status_code
    headers = {
        k: v for k, v in response.headers.items() if k not in {"content-length", "content-type"}
    }
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _validation_response(exc: RequestValidationError, request_id: str) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return JSONResponse(
            error_body(
                "The request body is not valid JSON.", "invalid_request_error", None, "invalid_json"
            ),
            status_code=400,
            headers={"x-request-id": request_id},
        )
    first = errors[0] if errors else {}
    location = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(location) or None
    message = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
        for e in errors
    )
    return JSONResponse(
        error_body(message, "invalid_request_error", param, "invalid_value"),
        status_code=422,
        headers={"x-request-id": request_id},
    )


def install_error_handlers(app: FastAPI, metrics: GatewayMetrics | None = None) -> None:
    """``metrics``: where refusals (429, 503) are counted by their error code."""

    def request_id(request: Request) -> str:
        return str(getattr(request.state, "request_id", "unknown"))

    def answer(exc: BaseException, request: Request) -> JSONResponse:
        response = to_response(exc, request_id(request))
        if metrics is not None:
            error = unwrap(exc)
            metrics.observe_refusal(
                response.status_code, error.code if isinstance(error, EchoRayError) else None
            )
        return shaped_for(request.url.path, response)

    @app.exception_handler(RequestValidationError)
    async def _on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return shaped_for(request.url.path, _validation_response(exc, request_id(request)))

    @app.exception_handler(EchoRayError)
    async def _on_echoray(request: Request, exc: EchoRayError) -> JSONResponse:
        return answer(exc, request)

    @app.exception_handler(StarletteHTTPException)
    async def _on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        code = "payload_too_large" if exc.status_code == 413 else None
        response = JSONResponse(
            error_body(str(exc.detail), kind, None, code),
            status_code=exc.status_code,
            # Starlette's own headers stay (a 405 names the allowed methods in Allow).
            headers={**(exc.headers or {}), "x-request-id": request_id(request)},
        )
        return shaped_for(request.url.path, response)

    @app.exception_handler(Exception)
    async def _on_unknown(request: Request, exc: Exception) -> JSONResponse:
        return answer(exc, request)
