"""``FakeEngine``: a deterministic engine with no model (engine layer).

For chain tests and overhead benchmarks only; the default stays the real model. A
"token" is a whitespace-separated word. The reply is fixed by config, or derived from
the last user message, so the same request always gets the same text.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from echoray.config import FakeEngineConfig, ModelSpec
from echoray.engines.base import GenerationChunk, GenerationRequest
from echoray.engines.text import StopStringStream, check_context_length
from echoray.errors import EngineError, ModelNotReadyError


class FakeEngine:
    """Streams a deterministic reply word by word."""

    def __init__(self, spec: ModelSpec) -> None:
        if not isinstance(spec.engine, FakeEngineConfig):
            raise TypeError("FakeEngine needs an engine config of kind 'fake'")
        self.model_name = spec.name
        self._spec = spec
        self._config = spec.engine
        self._ready = False
        self.broken = False  # tests flip this to exercise health checks
        self.in_flight = 0  # generations running now; the fake decodes them all at once

    async def start(self) -> None:
        await asyncio.sleep(self._config.load_delay_s)
        self._ready = True

    async def check_health(self) -> None:
        if self.broken:
            raise EngineError(f"engine of {self.model_name} is broken")

    async def shutdown(self) -> None:
        self._ready = False

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def render_prompt(self, request: GenerationRequest) -> str:
        if request.prompt is not None:
            return request.prompt
        return "\n".join(f"{m['role']}: {m['content']}" for m in request.messages or ())

    def reply_for(self, request: GenerationRequest) -> str:
        if self._config.reply is not None:
            return self._config.reply
        last_user = next(
            (m["content"] for m in reversed(request.messages or ()) if m["role"] == "user"),
            request.prompt or "",
        )
        return f"You said: {last_user}"

    def info(self) -> dict[str, Any]:
        return {"engine": "fake", "max_model_len": self._spec.max_model_len}

    @property
    def decoding(self) -> int:
        return self.in_flight

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        self.in_flight += 1
        try:
            async for chunk in self._generate(request):
                yield chunk
        finally:
            self.in_flight -= 1

    async def _generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        if not self._ready:
            raise ModelNotReadyError(f"model {self.model_name} is still loading", retry_after=1)
        sampling = request.sampling
        prompt_tokens = self.count_tokens(self.render_prompt(request))
        check_context_length(prompt_tokens, sampling.max_tokens, self._spec.max_model_len)
        words = self.reply_for(request).split()
        stream = StopStringStream(sampling.stop)
        text, produced = "", 0
        for word in words[: sampling.max_tokens]:
            if produced == self._config.fail_after_tokens:
                raise EngineError(f"injected failure after {produced} tokens")
            if self._config.token_delay_s:
                await asyncio.sleep(self._config.token_delay_s)
            text = f"{text} {word}" if text else word
            produced += 1
            new = stream.feed(text)
            if stream.stopped:
                yield GenerationChunk(new, prompt_tokens, produced, "stop")
                return
            if new:
                yield GenerationChunk(new, prompt_tokens, produced)
        finish = "length" if len(words) > sampling.max_tokens else "stop"
        yield GenerationChunk(stream.flush(text), prompt_tokens, produced, finish)
