"""Token sampling over a batch of logits (engine layer, torch only).

Penalties follow OpenAI: ``logit -= presence * (count > 0) + frequency * count`` over the
tokens generated so far. ``temperature == 0`` is greedy. Each sequence has its own
``torch.Generator`` so a seed reproduces the same text whatever else is in the batch.
"""

from __future__ import annotations

import torch

from echoray.engines.base import SamplingParams


def apply_penalties(
    logits: torch.Tensor, counts: torch.Tensor | None, params: SamplingParams
) -> torch.Tensor:
    """``logits``: [vocab]; ``counts``: [vocab] generated-token counts, or None."""
    if counts is None or (params.presence_penalty == 0 and params.frequency_penalty == 0):
        return logits
    counts = counts.to(logits.dtype)
    penalty = params.presence_penalty * (counts > 0).to(logits.dtype)
    penalty = penalty + params.frequency_penalty * counts
    return logits - penalty


def sample_token(
    logits: torch.Tensor,
    params: SamplingParams,
    generator: torch.Generator | None,
    counts: torch.Tensor | None = None,
) -> int:
    """Pick the next token id from one sequence's ``logits`` ([vocab])."""
    logits = apply_penalties(logits.float(), counts, params)
    if params.temperature == 0:
        return int(torch.argmax(logits))
    logits = logits / params.temperature
    if params.top_k > 0:
        k = min(params.top_k, logits.shape[-1])
        kth = torch.topk(logits, k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if params.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        cumulative = torch.cumsum(sorted_probs, dim=-1)
        # keep the smallest prefix whose mass reaches top_p (always at least one token)
        drop = cumulative - sorted_probs > params.top_p
        sorted_probs = sorted_probs.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
        probs = probs / probs.sum()
    return int(torch.multinomial(probs, 1, generator=generator))
