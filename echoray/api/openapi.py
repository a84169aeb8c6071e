"""The OpenAPI document as the server really answers (API layer).

FastAPI documents a 422 as its own ``{detail: [...]}`` and nothing else, while every error
this server sends is the OpenAI error object ``{"error": {message, type, param, code}}``.
``install_openapi`` rewrites each operation's error responses to that schema, adds the
statuses the server can send (400, 401, 404, 413, 500, 503 with ``Retry-After``) and the
event stream a ``"stream": true`` completion answers with, and drops FastAPI's unused
validation schemas, so a client generated from ``/openapi.json`` (or a fuzzer checking
responses against it) agrees with the server.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}

ERROR_SCHEMA: dict[str, Any] = {
    "title": "ErrorResponse",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "integer", "null"]},
            },
        }
    },
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer"},
    }
}
# Ollama's API (``/api/…``) answers its own error shape, and a 400 where OpenAI's is a 422.
OLLAMA_ERROR_REF = {"$ref": "#/components/schemas/OllamaErrorResponse"}
OLLAMA_ERROR_SCHEMA: dict[str, Any] = {
    "title": "OllamaErrorResponse",
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}
_OLLAMA_PREFIX = "/api/"

# Every operation may answer these; health probes take no body and no key.
_ALWAYS = {
    "400": "Malformed request (bad JSON, a value the model cannot honour).",
    "422": "The body or a parameter breaks the schema; `param` names it.",
    "500": "An unexpected server error (the message never carries internals).",
    "503": "Overloaded, still loading, or a part is down: retry after `Retry-After`.",
}
_API_ONLY = {
    "401": "Missing or unknown API key (when auth is on).",
    "403": "The key may not do this (admin routes).",
    "404": "No such model, memory or route, or the feature is disabled.",
}
_WITH_BODY = {"413": "The body, a text or a batch is over its limit."}
# Operations that answer Server-Sent Events when the body says `"stream": true`.
_STREAMING = ("/v1/chat/completions", "/v1/completions")
# The schema of one event (OpenAPI before 3.2 reads an event stream's `schema` per event).
_EVENT_STREAM = {
    "text/event-stream": {
        "schema": {
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": {
                    "type": "string",
                    "description": "A chunk as JSON (or an error object), `[DONE]` last.",
                }
            },
        }
    }
}


def _error_responses(path: str, method: str) -> dict[str, str]:
    statuses = dict(_ALWAYS)
    if not path.startswith(("/healthz", "/readyz", "/metrics")):
        statuses.update(_API_ONLY)
    if method in {"post", "patch", "put"}:
        statuses.update(_WITH_BODY)
    if path in _STREAMING or path in ("/api/chat", "/api/generate"):
        statuses["504"] = "The generation ran past `limits.generation_timeout_s` and stopped."
    if path.startswith(_OLLAMA_PREFIX):
        del statuses["422"]
    return statuses


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite ``schema`` (an OpenAPI document from FastAPI) in place and return it."""
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if path.startswith(_OLLAMA_PREFIX):
                responses.pop("422", None)  # FastAPI's; Ollama's API answers 400
            for status, description in _error_responses(path, method).items():
                ref = OLLAMA_ERROR_REF if path.startswith(_OLLAMA_PREFIX) else ERROR_REF
                response: dict[str, Any] = {
                    "description": description,
                    "content": {"application/json": {"schema": ref}},
                }
                if status == "503":
                    response["headers"] = _RETRY_AFTER
                responses[status] = response
    for path in _STREAMING:
        ok = schema.get("paths", {}).get(path, {}).get("post", {}).get("responses", {}).get("200")
        if ok is not None:
            ok.setdefault("content", {}).update(_EVENT_STREAM)
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["ErrorResponse"] = ERROR_SCHEMA
    schemas["OllamaErrorResponse"] = OLLAMA_ERROR_SCHEMA
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve the rewritten document at ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(
                get_openapi(title=app.title, version=app.version, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
