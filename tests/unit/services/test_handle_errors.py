"""Serve's own refusals, seen through a handle, become OpenAI-shaped 503s with Retry-After."""

from ray.serve.exceptions import BackPressureError

from echoray.api.errors import to_response
from echoray.errors import EngineError, ServiceUnavailableError
from echoray.serve.handles import as_echoray_error


def test_a_full_serve_queue_is_a_503_with_retry_after() -> None:
    full = BackPressureError(num_queued_requests=8, max_queued_requests=8, retry_after_s=2)
    error = as_echoray_error(full, "model m")
    assert isinstance(error, ServiceUnavailableError) and error.code == "queue_full"
    response = to_response(error, "req-1")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert b'"message":"the model m is at capacity; retry shortly"' in response.body


def test_a_full_queue_without_configured_retry_after_still_says_when() -> None:
    full = BackPressureError(num_queued_requests=1, max_queued_requests=1)
    assert as_echoray_error(full, "embedder").retry_after == 1  # type: ignore[attr-defined]


def test_other_errors_pass_through_unchanged() -> None:
    engine = EngineError("boom")
    assert as_echoray_error(engine, "model m") is engine


async def test_expected_errors_come_back_as_values_and_are_raised_again() -> None:
    from echoray.errors import ContextLengthExceededError, ModelNotReadyError
    from echoray.serve.handles import Refusal, refusing, refusing_stream

    async def too_long() -> str:
        raise ContextLengthExceededError("too long")

    refused = await refusing(too_long())
    assert isinstance(refused, Refusal) and isinstance(refused.error, ContextLengthExceededError)

    async def loading():  # a stream refused after it began: its last item says why
        yield [1]
        raise ModelNotReadyError("loading", retry_after=2)

    items = [item async for item in refusing_stream(loading())]
    assert items[0] == [1] and isinstance(items[1], Refusal)


async def test_server_faults_are_still_raised() -> None:
    from echoray.serve.handles import refusing

    async def broken() -> None:
        raise EngineError("the engine died")

    try:
        await refusing(broken())
    except EngineError:
        return
    raise AssertionError("an engine fault must be raised (and logged by Serve)")


async def test_a_stream_serve_refused_is_a_503_even_though_cancel_raises_again(
    monkeypatch,
) -> None:
    """Under Serve, cancelling a refused stream raises its BackPressureError once more;
    it must not replace the OpenAI-shaped 503 (it did: clients got Serve's plain text)."""
    from echoray.serve import handles

    def refused() -> BackPressureError:
        return BackPressureError(num_queued_requests=2, max_queued_requests=2, retry_after_s=2)

    class Refused:
        def __aiter__(self):
            return self

        async def __anext__(self):
            raise refused()

        def cancel(self) -> None:
            raise refused()

    class Handle:
        def options(self, stream: bool):
            return self

        @property
        def generate(self):
            return self

        def remote(self, request):
            return Refused()

    monkeypatch.setattr(handles, "DeploymentResponseGenerator", Refused)
    client = handles.ServeModelClient("m", Handle())  # type: ignore[arg-type]
    try:
        async for _ in client.generate(None):  # type: ignore[arg-type]
            pass
    except ServiceUnavailableError as exc:
        assert exc.code == "queue_full" and exc.retry_after == 2
        return
    raise AssertionError("no 503")
