"""Wire models of the OpenAI-compatible API (protocol layer; no vLLM, no Ray).

Unknown request fields are ignored, as OpenAI clients send fields we do not use; fields
we cannot honour (``n`` > 1) are rejected by the serving layer with a clear 400.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from echoray.protocol.text import reject_lone_surrogates

Role = Literal["system", "developer", "user", "assistant", "tool"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _encodable_text(cls, data: Any) -> Any:
        return reject_lone_surrogates(data)


class TextContentPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(_Request):
    role: Role
    content: str | list[TextContentPart] | None = None
    name: str | None = Field(None, max_length=256)

    def text(self) -> str:
        """The message content as one string (text parts joined)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(_Request):
    include_usage: bool = False


class _SamplingFields(_Request):
    """Sampling fields shared by chat and text completions."""

    model: str = Field(..., min_length=1, max_length=256)
    max_tokens: int | None = Field(None, ge=1, strict=True)
    temperature: float = Field(1.0, ge=0.0, le=2.0, strict=True)
    top_p: float = Field(1.0, gt=0.0, le=1.0, strict=True)
    top_k: int = Field(
        0, ge=0, strict=True, description="0 disables top-k (an extension to OpenAI)."
    )
    n: int = Field(
        1, ge=1, le=1, strict=True, description="Only one choice per request is supported."
    )
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=0, le=2**63 - 1, strict=True)
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    stream: bool = Field(False, strict=True)
    stream_options: StreamOptions | None = None
    user: str | None = Field(None, max_length=256)

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: str | list[str] | None) -> list[str] | None:
        if value is None:
            return None
        stops = [value] if isinstance(value, str) else value
        if any(not s for s in stops):
            raise ValueError("stop strings must not be empty")
        return stops

    def stop_list(self) -> list[str]:
        return list(self.stop or [])


class EchoOptions(_Request):
    """echoray's memory controls for one chat (the ``echo`` body field, an extension).

    They apply when the request names a ``user``; the ``openai`` client sends them with
    ``extra_body={"echo": {...}}``.
    """

    model_config = ConfigDict(extra="forbid")

    session: str | None = Field(
        None, max_length=128, description="Session id (short-term memory); or x-echo-session."
    )
    memory: bool = Field(True, description="Recall memories into the context.")
    write: bool = Field(True, description="Learn from this exchange (experience, memory).")
    trace: bool = Field(False, description="Return the pipeline's trace as `echo`.")
    goals: list[str] = Field(
        default_factory=list,
        max_length=8,
        description="Session goals; memories serving them rank higher.",
    )
    budget_tokens: int | None = Field(
        None, ge=0, le=32768, description="Most tokens of recalled memory in the context."
    )

    @field_validator("goals")
    @classmethod
    def _goals(cls, value: list[str]) -> list[str]:
        if any(not goal.strip() or len(goal) > 500 for goal in value):
            raise ValueError("each goal must be 1 to 500 characters")
        return value


class ChatCompletionRequest(_SamplingFields):
    messages: list[ChatMessage] = Field(..., min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1, strict=True)
    echo: EchoOptions | None = Field(None, description="echoray memory controls (extension).")

    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(_SamplingFields):
    prompt: str = Field(..., description="One prompt string (lists are not supported).")

    def requested_max_tokens(self) -> int | None:
        return self.max_tokens


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: str | None
    logprobs: None = None


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[ChatChoice]
    usage: Usage
    echo: dict[str, Any] | None = None


class DeltaMessage(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChatChunkChoice(BaseModel):
    index: int = 0
    delta: DeltaMessage
    finish_reason: str | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[ChatChunkChoice]
    usage: Usage | None = None
    echo: dict[str, Any] | None = None


class CompletionChoice(BaseModel):
    index: int = 0
    text: str
    finish_reason: str | None
    logprobs: None = None


class CompletionResponse(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "echoray"
    metadata: dict[str, Any] = Field(default_factory=dict)


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class EmbeddingRequest(_Request):
    model: str = Field(..., min_length=1, max_length=256)
    input: str | list[str] = Field(..., description="One text or a list of texts.")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
    user: str | None = Field(None, max_length=256)

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


class EmbeddingData(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str
    usage: EmbeddingUsage


class FeedbackRequest(_Request):
    """``POST /v1/feedback``: how good one chat answer was."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(
        ..., min_length=1, max_length=256, description="The chat's response id (chatcmpl-…)."
    )
    user: str = Field(
        ...,
        min_length=1,
        max_length=256,
        description="The chat's `user`: only the user an exchange belongs to may rate it.",
    )
    score: float = Field(..., ge=-1.0, le=1.0, description="-1 bad .. 1 good.")
    comment: str | None = Field(None, max_length=2000)


class FeedbackResponse(BaseModel):
    request_id: str
    feedback: float
    memories_updated: int = Field(description="Memories whose strength the feedback moved.")
