import pytest

from echoray.config import ModelSpec
from echoray.engines.base import GenerationRequest, SamplingParams
from echoray.engines.fake import FakeEngine
from echoray.errors import ContextLengthExceededError, ModelNotReadyError


def spec(**engine: object) -> ModelSpec:
    return ModelSpec.model_validate(
        {"name": "fake", "engine": {"kind": "fake", **engine}, "max_model_len": 300}
    )


async def collect(engine: FakeEngine, request: GenerationRequest) -> tuple[str, object]:
    text, last = "", None
    async for chunk in engine.generate(request):
        text += chunk.text
        last = chunk
    return text, last


async def test_reply_is_deterministic_and_usage_exact() -> None:
    engine = FakeEngine(spec())
    await engine.start()
    request = GenerationRequest("r", messages=({"role": "user", "content": "hello there"},))
    text, last = await collect(engine, request)
    assert text == "You said: hello there"
    assert (last.prompt_tokens, last.completion_tokens, last.finish_reason) == (3, 4, "stop")
    assert (await collect(engine, request))[0] == text


async def test_max_tokens_and_stop() -> None:
    engine = FakeEngine(spec(reply="a b c d e"))
    await engine.start()
    text, last = await collect(
        engine, GenerationRequest("r", SamplingParams(max_tokens=2), prompt="x")
    )
    assert (text, last.finish_reason) == ("a b", "length")
    text, last = await collect(
        engine, GenerationRequest("r", SamplingParams(stop=(" c",)), prompt="x")
    )
    assert (text, last.finish_reason) == ("a b", "stop")


async def test_not_ready_and_too_long() -> None:
    engine = FakeEngine(spec())
    with pytest.raises(ModelNotReadyError):
        await collect(engine, GenerationRequest("r", prompt="x"))
    await engine.start()
    with pytest.raises(ContextLengthExceededError):
        await collect(
            engine, GenerationRequest("r", SamplingParams(max_tokens=299), prompt="a b c")
        )
