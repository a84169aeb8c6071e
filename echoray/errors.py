"""The one exception tree of echoray (core layer: no HTTP framework imports).

    EchoRayError                       500 internal_error
    ├── InvalidRequestError            400 invalid_request_error
    │   └── ContextLengthExceededError 400 (code: context_length_exceeded)
    ├── AuthenticationError            401 authentication_error
    ├── PermissionDeniedError          403 permission_error
    ├── NotFoundError                  404 not_found_error
    │   └── ModelNotFoundError         404 (code: model_not_found)
    ├── ConflictError                  409 conflict_error
    ├── PayloadTooLargeError           413 invalid_request_error (code: payload_too_large)
    ├── UnprocessableEntityError       422 invalid_request_error
    ├── RateLimitError                 429 rate_limit_error (Retry-After)
    ├── ServiceUnavailableError        503 service_unavailable (Retry-After)
    │   └── ModelNotReadyError         503 (code: model_not_ready)
    ├── GenerationTimeoutError         504 timeout_error (code: generation_timeout)
    ├── EngineError                    500 engine_error
    └── ConfigError                    raised at start; says what to fix

Every class keeps its arguments through pickling (``__reduce__``), because errors cross
Ray actor and Serve replica boundaries. Only ``echoray.api.errors`` turns them into HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


class EchoRayError(Exception):
    """Base of every error echoray raises on purpose."""

    status_code: int = 500
    error_type: str = "internal_error"
    default_code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments are lost by the default pickling; rebuild explicitly.
        return (
            _rebuild_error,
            (type(self), self.message, self.param, self.code, self.retry_after),
        )

    def to_dict(self) -> dict[str, Any]:
        """The OpenAI error object: ``{"message", "type", "param", "code"}``."""
        return {
            "message": self.message,
            "type": self.error_type,
            "param": self.param,
            "code": self.code,
        }


def _rebuild_error(
    cls: type[EchoRayError],
    message: str,
    param: str | None,
    code: str | None,
    retry_after: float | None,
) -> EchoRayError:
    return cls(message, param=param, code=code, retry_after=retry_after)


class InvalidRequestError(EchoRayError):
    status_code = 400
    error_type = "invalid_request_error"


class ContextLengthExceededError(InvalidRequestError):
    default_code = "context_length_exceeded"


class AuthenticationError(EchoRayError):
    status_code = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDeniedError(EchoRayError):
    status_code = 403
    error_type = "permission_error"


class NotFoundError(EchoRayError):
    status_code = 404
    error_type = "not_found_error"


class ModelNotFoundError(NotFoundError):
    default_code = "model_not_found"


class ConflictError(EchoRayError):
    status_code = 409
    error_type = "conflict_error"


class PayloadTooLargeError(EchoRayError):
    status_code = 413
    error_type = "invalid_request_error"
    default_code = "payload_too_large"


class UnprocessableEntityError(EchoRayError):
    status_code = 422
    error_type = "invalid_request_error"


class RateLimitError(EchoRayError):
    status_code = 429
    error_type = "rate_limit_error"


class ServiceUnavailableError(EchoRayError):
    status_code = 503
    error_type = "service_unavailable"


class ModelNotReadyError(ServiceUnavailableError):
    default_code = "model_not_ready"


class GenerationTimeoutError(EchoRayError):
    """A generation ran past ``limits.generation_timeout_s``; its engine slot is freed."""

    status_code = 504
    error_type = "timeout_error"
    default_code = "generation_timeout"


class EngineError(EchoRayError):
    status_code = 500
    error_type = "engine_error"


class ConfigError(EchoRayError):
    """A configuration fault found at start. The message says what to fix."""

    error_type = "config_error"


def unwrap_remote(exc: BaseException) -> BaseException:
    """Errors that crossed a Ray boundary arrive wrapped (``RayTaskError``); return the
    original, so callers can catch our own types."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException) and type(exc).__name__.startswith("RayTaskError"):
        return cause
    return exc


def validation_problems(
    errors: Sequence[Any], name: Callable[[tuple[Any, ...]], str] | None = None
) -> str:
    """A pydantic ``ValidationError``'s ``errors()`` as one line, "where: what" each; ``name``
    turns an error's location into what the reader knows it as (a dotted config path by
    default, an option name for a CLI)."""
    name = name or (lambda loc: ".".join(str(p) for p in loc) or "(top level)")
    return "; ".join(f"{name(tuple(err['loc']))}: {err['msg']}" for err in errors)
