"""``POST /v1/embeddings`` logic over an ``EmbeddingClient`` (plain Python, no Ray).

In process the client is ``LocalEmbeddingClient`` (``services.local``: an embedder run in
a worker thread); under Ray it calls the Embedder deployment, which batches texts across
requests.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from echoray.config import EmbeddingsConfig
from echoray.embeddings import EmbeddingClient
from echoray.errors import ModelNotFoundError, UnprocessableEntityError
from echoray.protocol.openai import (
    EmbeddingData,
    EmbeddingRequest,
    EmbeddingResponse,
    EmbeddingUsage,
)


class EmbeddingsService:
    """Validates requests against the limits and shapes OpenAI's response."""

    def __init__(self, client: EmbeddingClient, config: EmbeddingsConfig) -> None:
        self._client = client
        self._config = config
        self.model_name = config.model_name

    async def info(self) -> dict[str, Any]:
        return await self._client.info()

    async def is_ready(self) -> bool:
        return await self._client.is_ready()

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        if request.model != self.model_name:
            raise ModelNotFoundError(
                f"The embedding model {request.model!r} does not exist. "
                f"Available: [{self.model_name!r}]",
                param="model",
            )
        texts = request.texts()
        if not texts:
            raise UnprocessableEntityError("input must not be an empty list", param="input")
        if len(texts) > self._config.max_inputs:
            raise UnprocessableEntityError(
                f"{len(texts)} inputs; at most {self._config.max_inputs} per request",
                param="input",
            )
        for index, text in enumerate(texts):
            if len(text) > self._config.max_input_chars:
                raise UnprocessableEntityError(
                    f"input[{index}] has {len(text)} characters; at most "
                    f"{self._config.max_input_chars} allowed",
                    param="input",
                )
        vectors, tokens = await self._client.embed(texts)
        if request.dimensions is not None and request.dimensions != vectors.shape[1]:
            raise UnprocessableEntityError(
                f"this model's embeddings have {vectors.shape[1]} dimensions; "
                f"dimensions={request.dimensions} is not supported",
                param="dimensions",
            )
        data = [
            EmbeddingData(index=i, embedding=_encode(row, request.encoding_format))
            for i, row in enumerate(vectors)
        ]
        return EmbeddingResponse(
            data=data,
            model=self.model_name,
            usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens),
        )


def _encode(row: np.ndarray, encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":  # what the openai client asks for by default
        return base64.b64encode(row.astype("<f4").tobytes()).decode("ascii")
    return [float(x) for x in row]
