import json
import pickle

import pytest

from echoray import errors
from echoray.api.errors import ollama_error_line, shaped_for, to_response


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (errors.InvalidRequestError, 400),
        (errors.ContextLengthExceededError, 400),
        (errors.AuthenticationError, 401),
        (errors.PermissionDeniedError, 403),
        (errors.ModelNotFoundError, 404),
        (errors.ConflictError, 409),
        (errors.PayloadTooLargeError, 413),
        (errors.UnprocessableEntityError, 422),
        (errors.RateLimitError, 429),
        (errors.ModelNotReadyError, 503),
        (errors.GenerationTimeoutError, 504),
        (errors.EngineError, 500),
    ],
)
def test_every_error_survives_pickling_and_maps_to_its_status(cls: type, status: int) -> None:
    original = cls("boom", param="p", retry_after=3)
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is cls
    assert (copy.message, copy.param, copy.code, copy.retry_after) == (
        "boom",
        "p",
        original.code,
        3,
    )
    response = to_response(copy, "rid-1")
    assert response.status_code == status
    assert response.headers["x-request-id"] == "rid-1"
    assert response.headers["retry-after"] == "3"


def test_unknown_exception_is_a_500_with_request_id_and_no_details() -> None:
    response = to_response(RuntimeError("secret internals"), "rid-9")
    assert response.status_code == 500
    assert b"rid-9" in response.body
    assert b"secret" not in response.body


def test_under_api_errors_take_ollamas_shape_and_keep_their_headers() -> None:
    openai_shaped = to_response(errors.ModelNotReadyError("loading", retry_after=2), "rid-1")
    ollama_shaped = shaped_for("/api/chat", openai_shaped)
    assert ollama_shaped.status_code == 503
    assert json.loads(bytes(ollama_shaped.body)) == {"error": "loading"}
    assert ollama_shaped.headers["retry-after"] == "2"
    assert ollama_shaped.headers["x-request-id"] == "rid-1"
    assert shaped_for("/v1/chat/completions", openai_shaped) is openai_shaped
    unprocessable = to_response(errors.UnprocessableEntityError("bad"), "rid-2")
    assert shaped_for("/api/generate", unprocessable).status_code == 400  # Ollama has no 422


def test_a_failed_ollama_stream_ends_with_an_error_line() -> None:
    line = ollama_error_line(errors.GenerationTimeoutError("ran past 8 s"))
    assert line.endswith(b"\n") and json.loads(line) == {"error": "ran past 8 s"}
    hidden = json.loads(ollama_error_line(RuntimeError("a secret internal detail")))
    assert hidden == {"error": "internal server error"}
