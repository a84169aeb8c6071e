"""Wire models of Ollama's REST API (protocol layer; no HTTP framework, no Ray).

Ollama is lenient: unknown request fields are ignored, and so are ``options`` it does not
know. Options echoray knows are checked (a wrong type is a 400 naming the option), and
mapped onto the same sampling fields an OpenAI request has, so both APIs share one
validation and one engine path (``sampling_fields``). Defaults are Ollama's own
(temperature 0.8, top_p 0.9, top_k 40), so a client moving from Ollama keeps its outputs'
character.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from echoray.errors import InvalidRequestError
from echoray.protocol.text import reject_lone_surrogates

# The Ollama release whose API this implements; `GET /api/version` reports it, because
# clients compare it to the version a feature needs (not echoray's own version).
OLLAMA_API_VERSION = "0.12.6"

OLLAMA_DEFAULTS: dict[str, Any] = {"temperature": 0.8, "top_p": 0.9, "top_k": 40}


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _encodable_text(cls, data: Any) -> Any:
        return reject_lone_surrogates(data)


class _ModelRequest(_Request):
    model: str = Field(..., min_length=1, max_length=256)
    keep_alive: float | str | None = Field(None, description="Accepted and ignored.")


class _GenerationFields(_ModelRequest):
    stream: bool = Field(True, description="NDJSON lines (the default), or one object.")
    options: dict[str, Any] | None = Field(
        None, description="Sampling: temperature, top_p, top_k, seed, num_predict, stop, ..."
    )
    format: str | dict[str, Any] | None = Field(None, description="Not supported (400).")
    think: bool | str | None = Field(None, description="Not supported when true (400).")
    images: list[str] | None = Field(None, description="Not supported (400).")

    def unsupported(self) -> str | None:
        """Why this server cannot honour the request as asked, if it cannot."""
        if self.format:
            return "this server does not support structured outputs (format)"
        if self.think:
            return f"{self.model!r} does not support thinking"
        if self.images:
            return f"{self.model!r} does not support images"
        return None


class OllamaMessage(_Request):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    images: list[str] | None = None
    tool_calls: list[dict[str, Any]] | None = None


class OllamaChatRequest(_GenerationFields):
    messages: list[OllamaMessage] = Field(default_factory=list)
    tools: list[dict[str, Any]] | None = Field(None, description="Not supported (400).")

    def unsupported(self) -> str | None:
        if self.tools:
            return f"{self.model!r} does not support tools"
        if any(m.images for m in self.messages):
            return f"{self.model!r} does not support images"
        return super().unsupported()


class OllamaGenerateRequest(_GenerationFields):
    prompt: str = ""
    system: str | None = None
    suffix: str | None = Field(None, description="Not supported (400).")
    raw: bool = Field(False, description="Send the prompt as is, without the chat template.")
    template: str | None = Field(None, description="Not supported (400).")
    context: list[int] | None = Field(None, description="Accepted and ignored.")

    def unsupported(self) -> str | None:
        if self.suffix:
            return f"{self.model!r} does not support insert (suffix)"
        if self.template:
            return "this server applies the model's own chat template (template)"
        return super().unsupported()


class OllamaEmbedRequest(_ModelRequest):
    input: str | list[str]
    truncate: bool = True
    dimensions: int | None = Field(None, ge=1)
    options: dict[str, Any] | None = None

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


class OllamaEmbeddingsRequest(_ModelRequest):
    """The older ``/api/embeddings``: one prompt, one vector."""

    prompt: str = ""
    options: dict[str, Any] | None = None


class OllamaShowRequest(_Request):
    model: str | None = Field(None, max_length=256)
    name: str | None = Field(None, max_length=256, description="The older name of `model`.")
    verbose: bool = False

    def model_name(self) -> str:
        name = self.model or self.name
        if not name:
            raise InvalidRequestError("model is required", param="model")
        return name


# --- options -> sampling -----------------------------------------------------------------

_FLOAT_OPTIONS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
_INT_OPTIONS = ("top_k", "seed", "num_predict")


def sampling_fields(options: dict[str, Any] | None) -> dict[str, Any]:
    """The OpenAI sampling fields for Ollama ``options``, Ollama's defaults where unset.

    ``num_predict`` of -1 (until done) or -2 (fill the context) leaves the length to the
    server's ``limits.default_max_tokens``; options echoray does not use are ignored, as
    Ollama ignores those it does not know.

    Raises:
        InvalidRequestError: a known option of the wrong type (400, naming it).
    """
    given = dict(options or {})
    fields = dict(OLLAMA_DEFAULTS)
    for name in _FLOAT_OPTIONS:
        if given.get(name) is not None:
            fields[name] = _number(name, given[name])
    for name in _INT_OPTIONS:
        if given.get(name) is not None:
            fields[name] = _integer(name, given[name])
    if fields.get("seed", 0) < 0:
        del fields["seed"]  # Ollama's -1: a random seed
    predict = fields.pop("num_predict", None)
    if predict is not None and predict >= 0:
        fields["max_tokens"] = max(predict, 1)
    stop = given.get("stop")
    if stop is not None:
        stops = [stop] if isinstance(stop, str) else stop
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise InvalidRequestError('option "stop" must be a list of strings', param="stop")
        fields["stop"] = [s for s in stops if s] or None
    return fields


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRequestError(f'option "{name}" must be of type float', param=name)
    return float(value)


def _integer(name: str, value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON from some clients writes 40 as 40.0
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f'option "{name}" must be of type integer', param=name)
    return value
