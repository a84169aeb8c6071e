"""Reflections written by a served model (``consolidation.summarize: model``).

The model is asked through the same ``ModelClient`` the gateway uses (an in-process
engine host, or the model's Serve deployment), greedily, with a short answer.
"""

from __future__ import annotations

import uuid

from echoray.engines.base import GenerationRequest, SamplingParams
from echoray.learning.consolidation import Summarize
from echoray.services.chat import ModelClient

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
