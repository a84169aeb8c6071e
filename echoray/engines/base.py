"""The ``Engine`` protocol and the plain data that crosses it (engine layer).

An engine turns a ``GenerationRequest`` into an async stream of ``GenerationChunk``; a
non-streaming reply is the collected stream. Engines raise typed errors from
``echoray.errors`` and never import Ray, so they can be tested alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class SamplingParams:
    """How to pick tokens. ``temperature == 0`` means greedy."""

    max_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0


@dataclass(frozen=True)
class GenerationRequest:
    """One generation: either chat ``messages`` (rendered by the engine's chat template)
    or a raw ``prompt``."""

    request_id: str
    sampling: SamplingParams = field(default_factory=SamplingParams)
    messages: tuple[dict[str, str], ...] | None = None
    prompt: str | None = None

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("GenerationRequest needs exactly one of messages or prompt")


@dataclass(frozen=True)
class GenerationChunk:
    """A piece of streamed output.

    ``text`` is the new text since the previous chunk (may be empty on the last chunk).
    Token counts are cumulative, so the last chunk carries exact usage. ``finish_reason``
    is set only on the last chunk: ``"stop"`` (EOS or a stop string) or ``"length"``.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = None


@runtime_checkable
class Engine(Protocol):
    """What every engine offers. Implementations: ``TorchEngine``, ``VLLMEngine``,
    ``FakeEngine``."""

    model_name: str

    async def start(self) -> None:
        """Load the model. Raises ``ConfigError`` for a bad source, ``EngineError`` else."""
        ...

    async def check_health(self) -> None:
        """Raise ``EngineError`` when the engine cannot serve (Serve then replaces it)."""
        ...

    async def shutdown(self) -> None:
        """Stop background work and free the model."""
        ...

    def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        """Stream chunks for ``request``.

        Raises (before the first chunk): ``ContextLengthExceededError`` when the prompt
        plus ``max_tokens`` exceed the model length, ``RateLimitError`` or
        ``ServiceUnavailableError`` when the queue is full, ``ModelNotReadyError`` before
        ``start`` completed. Cancelling the iteration frees the request's slot.
        """
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` under the model's own tokenizer."""
        ...

    def info(self) -> dict[str, Any]:
        """Metadata shown by ``GET /v1/models``."""
        ...


class ModelClient(Protocol):
    """What the gateway needs of one served model: an ``EngineHost`` in process, the model's
    Serve deployment under Ray."""

    name: str

    async def is_ready(self) -> bool: ...

    async def info(self) -> dict[str, Any]: ...

    async def stats(self) -> dict[str, Any]:
        """Live counters: ``in_flight`` (admitted, unfinished) and ``decoding``; None for
        an engine that does not count them."""
        ...

    def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]: ...
