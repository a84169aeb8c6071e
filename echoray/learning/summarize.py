"""Reflections written by a served model (``consolidation.summarize: model``).

The model is asked through the same ``ModelClient`` the gateway uses (an in-process
engine host, or the model's Serve deployment), greedily, with a short answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from echoray.config import EchoRayConfig
from echoray.engines.base import GenerationRequest, ModelClient, SamplingParams
from echoray.learning.consolidation import Summarize

SUMMARY_TOKENS = 96


def model_summarizer(client: ModelClient) -> Summarize:
    """A summarize function that sends the prompt as one user message to ``client``."""

    async def summarize(prompt: str) -> str:
        request = GenerationRequest(
            request_id="reflect-" + uuid.uuid4().hex[:12],
            sampling=SamplingParams(max_tokens=SUMMARY_TOKENS, temperature=0.0),
            messages=({"role": "user", "content": prompt},),
        )
        parts = [chunk.text async for chunk in client.generate(request)]
        return "".join(parts)

    return summarize


def summarizer_for(
    config: EchoRayConfig, client_for: Callable[[str], ModelClient] | None
) -> Summarize | None:
    """What ``consolidation.summarize`` asks for: None (extractive summaries) unless it is
    ``model`` and a model can be reached; then ``summarize_model``, or the first model."""
    if config.consolidation.summarize != "model" or client_for is None:
        return None
    name = config.consolidation.summarize_model or config.models[0].name
    return model_summarizer(client_for(name))
