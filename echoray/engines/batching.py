"""Continuous batching for ``TorchEngine`` (engine layer, torch only; runs in one thread).

Sequences wait in a queue; each step the batcher

1. admits one waiting sequence into the next free slot (when fewer than ``max_num_seqs``
   run) and prefills its prompt in chunks of ``prefill_chunk`` tokens, one chunk per step,
   so long prompts never stall the running streams for long;
2. decodes one token for every running sequence in a single batched forward pass;
3. samples, detokenizes and streams each sequence's new text, and retires sequences that
   hit EOS, a stop string, ``max_tokens`` or were cancelled, keeping slots packed.

Each sequence has its own KV slot, sampling parameters, seeded generator and penalties, so
a request's text does not depend on what else is in the batch.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from echoray.engines.base import GenerationChunk, GenerationRequest
from echoray.engines.llama import LlamaRunner
from echoray.engines.sampling import sample_token
from echoray.engines.text import StopStringStream
from echoray.errors import EchoRayError, EngineError

log = logging.getLogger(__name__)


@dataclass
class Sequence:
    """One request inside the batcher. ``cached`` counts positions in its KV slot."""

    request: GenerationRequest
    prompt_ids: list[int]
    loop: asyncio.AbstractEventLoop
    out: asyncio.Queue[GenerationChunk | BaseException]
    cancelled: bool = False
    slot: int = -1
    cached: int = 0
    generated: list[int] = field(default_factory=list)
    stream: StopStringStream = field(init=False)
    generator: torch.Generator | None = None
    counts: torch.Tensor | None = None

    def __post_init__(self) -> None:
        self.stream = StopStringStream(self.request.sampling.stop)

    def send(self, item: GenerationChunk | BaseException) -> None:
        try:
            self.loop.call_soon_threadsafe(self.out.put_nowait, item)
        except RuntimeError:  # the caller's event loop is gone: nobody is listening
            self.cancelled = True

    @property
    def needs_full_sampling(self) -> bool:
        params = self.request.sampling
        return (
            params.temperature > 0 or params.presence_penalty != 0 or params.frequency_penalty != 0
        )


class ContinuousBatcher:
    """The decode loop; ``run`` blocks until ``None`` arrives on the inbox."""

    def __init__(
        self,
        runner: LlamaRunner,
        tokenizer: Any,
        eos_ids: set[int],
        inbox: queue.Queue[Sequence | None],
        max_num_seqs: int,
        prefill_chunk: int = 128,
    ) -> None:
        self.runner = runner
        self.tokenizer = tokenizer
        self.eos_ids = eos_ids
        self.inbox = inbox
        self.max_num_seqs = min(max_num_seqs, runner.max_slots)
        self.prefill_chunk = prefill_chunk
        self.waiting: collections.deque[Sequence] = collections.deque()
        self.running: list[Sequence] = []
        self.prefilling: Sequence | None = None
        self.steps = 0
        self._stopping = False
        self.vocab = runner.vocab_size

    # --- loop ---------------------------------------------------------------------------

    def run(self) -> None:
        while not self._stopping:
            self._take_arrivals(block=not (self.running or self.prefilling or self.waiting))
            try:
                self.step()
            except Exception as exc:  # fail the affected requests, keep the engine alive
                log.exception("batch step failed")
                self._fail_all(
                    exc
                    if isinstance(exc, EchoRayError)
                    else EngineError(f"generation failed: {exc!r}")
                )

    def _take_arrivals(self, block: bool) -> None:
        try:
            item = self.inbox.get(block=block)
            while True:
                if item is None:
                    self._stopping = True
                    self._fail_all(EngineError("engine is shutting down"))
                    return
                self.waiting.append(item)
                item = self.inbox.get_nowait()
        except queue.Empty:
            pass

    def step(self) -> None:
        """One scheduling step: admit/prefill one chunk, then decode every running sequence."""
        self.steps += 1
        if self.prefilling is None:
            self._admit_next()
        if self.prefilling is not None:
            self._prefill_chunk(self.prefilling)
        if self.running:
            self._decode_running()

    def _admit_next(self) -> None:
        while self.waiting and len(self.running) < self.max_num_seqs:
            sequence = self.waiting.popleft()
            if sequence.cancelled:
                continue
            params = sequence.request.sampling
            if params.seed is not None:
                sequence.generator = torch.Generator(device=self.runner.device).manual_seed(
                    params.seed
                )
            if params.presence_penalty or params.frequency_penalty:
                sequence.counts = torch.zeros(
                    self.vocab, dtype=torch.int32, device=self.runner.device
                )
            sequence.slot = len(self.running)
            self.prefilling = sequence
            return

    def _prefill_chunk(self, sequence: Sequence) -> None:
        if sequence.cancelled:
            self.prefilling = None
            return
        start = sequence.cached
        chunk = sequence.prompt_ids[start : start + self.prefill_chunk]
        tokens = torch.tensor([chunk], device=self.runner.device)
        logits = self.runner.forward(
            tokens, sequence.slot, torch.tensor([start], device=self.runner.device)
        )
        sequence.cached += len(chunk)
        if sequence.cached < len(sequence.prompt_ids):
            return
        self.prefilling = None
        token = sample_token(
            logits[0], sequence.request.sampling, sequence.generator, sequence.counts
        )
        if not self._emit(sequence, token):
            self.running.append(sequence)

    def _decode_running(self) -> None:
        batch = self.running
        device = self.runner.device
        tokens = torch.tensor([[s.generated[-1]] for s in batch], device=device)
        starts = torch.tensor([s.cached for s in batch], device=device)
        logits = self.runner.forward(tokens, 0, starts)
        greedy = logits.argmax(dim=-1).tolist()
        finished = set()
        for index, sequence in enumerate(batch):
            sequence.cached += 1
            if sequence.needs_full_sampling:
                token = sample_token(
                    logits[index], sequence.request.sampling, sequence.generator, sequence.counts
                )
            else:
                token = greedy[index]
            if self._emit(sequence, token):
                finished.add(index)
        if finished:
            self._retire(finished)

    # --- output -------------------------------------------------------------------------

    def _emit(self, sequence: Sequence, token: int) -> bool:
        """Stream ``token``'s text; return True when the sequence is finished."""
        if sequence.cancelled:
            return True
        n_prompt, params = len(sequence.prompt_ids), sequence.request.sampling
        if token in self.eos_ids:
            text = self._text(sequence)
            sequence.send(
                GenerationChunk(
                    sequence.stream.flush(text), n_prompt, len(sequence.generated), "stop"
                )
            )
            return True
        sequence.generated.append(token)
        if sequence.counts is not None:
            sequence.counts[token] += 1
        text = self._text(sequence)
        new = sequence.stream.feed(text)
        produced = len(sequence.generated)
        if sequence.stream.stopped:
            sequence.send(GenerationChunk(new, n_prompt, produced, "stop"))
            return True
        if produced >= params.max_tokens:
            sequence.send(
                GenerationChunk(new + sequence.stream.flush(text), n_prompt, produced, "length")
            )
            return True
        if new:
            sequence.send(GenerationChunk(new, n_prompt, produced))
        return False

    def _text(self, sequence: Sequence) -> str:
        return str(self.tokenizer.decode(sequence.generated, skip_special_tokens=True))

    def _retire(self, finished: set[int]) -> None:
        """Drop finished sequences and pack the rest into slots 0..n-1 (moving caches down)."""
        survivors = [s for i, s in enumerate(self.running) if i not in finished]
        for index, sequence in enumerate(survivors):  # increasing order never overwrites live data
            if sequence.slot != index:
                self.runner.move_slot(sequence.slot, index, sequence.cached)
                sequence.slot = index
        self.running = survivors
        prefilling = self.prefilling
        if prefilling is not None and prefilling.slot != len(survivors):
            self.runner.move_slot(prefilling.slot, len(survivors), prefilling.cached)
            prefilling.slot = len(survivors)

    def _fail_all(self, error: BaseException) -> None:
        for sequence in [
            *self.running,
            *self.waiting,
            *([self.prefilling] if self.prefilling else []),
        ]:
            sequence.send(error)
        self.running, self.prefilling = [], None
        self.waiting.clear()


def in_thread(fn: Callable[[], None]) -> Callable[[], None]:
    """Run ``fn`` with autograd off (the batcher thread's entry point)."""

    def wrapper() -> None:
        with torch.inference_mode():
            fn()

    return wrapper
