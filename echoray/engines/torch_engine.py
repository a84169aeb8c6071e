"""``TorchEngine``: transformers weights on CPU (or CUDA), continuously batched and
streaming (engine layer).

One worker thread owns the model and runs the ``ContinuousBatcher``; requests reach it
through a queue and stream back through an asyncio queue per request, so the event loop
never blocks on torch. Abandoning a request's iteration (a client that disconnected)
marks it cancelled; the batcher drops it at the next step and frees its slot.

Limits: ``max_num_seqs`` sequences decode together, ``max_queue`` more may wait; beyond
that a request is refused at once with a 503 and ``Retry-After``. The first load of a GGUF
converts it once into the cache (see ``sources``). The fast path supports Llama-family
architectures (``LlamaRunner``); other architectures fail at start with a config error.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import torch

from echoray.config import ModelSpec, TorchEngineConfig
from echoray.engines.base import GenerationChunk, GenerationRequest
from echoray.engines.batching import ContinuousBatcher, Sequence, in_thread
from echoray.engines.llama import LlamaRunner
from echoray.engines.sources import ModelSource, cached_model_dir, is_remote, resolve_source
from echoray.engines.text import check_context_length
from echoray.errors import ConfigError, EngineError, ModelNotReadyError, ServiceUnavailableError

log = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def convert_gguf(source: ModelSource, target: Path) -> None:
    """Dequantise a GGUF with transformers and save it as a HF folder at ``target``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(source.path.parent), source.path.name
    log.info("converting %s once into %s (takes ~30 s)", source.path, target)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model: Any = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    # The weights are dequantised now; forget the GGUF quantizer so saving is allowed.
    model.hf_quantizer = None
    model.config.__dict__.pop("quantization_config", None)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


class TorchEngine:
    """Streaming generation with transformers; see the module docstring."""

    def __init__(self, spec: ModelSpec, cache_dir: Path) -> None:
        if not isinstance(spec.engine, TorchEngineConfig):
            raise TypeError("TorchEngine needs an engine config of kind 'torch'")
        self.model_name = spec.name
        self._spec = spec
        self._config = spec.engine
        self._cache_dir = cache_dir
        # Local sources are checked now (a typo fails the deployment, not the first request);
        # remote ones are downloaded in the background load.
        self._source = None if is_remote(spec.source) else resolve_source(spec.source)
        self._device = _pick_device(spec.device)
        self._dtype = _pick_dtype(spec.dtype, self._device)
        self._runner: LlamaRunner | None = None
        self._tokenizer: Any = None
        self._architecture: str | None = None  # known once loaded
        self._parameters: int | None = None
        self._queue: queue.Queue[Sequence | None] = queue.Queue()
        self.batcher: ContinuousBatcher | None = None
        # Admitted and not yet returned to the caller. Counted on the caller's side (admit
        # in generate, release in its finally) so every admission is released exactly once.
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self.load_seconds: float | None = None

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        if self._worker is not None:
            return  # already loaded; hosts may share one engine
        started = time.perf_counter()
        await asyncio.to_thread(self._load)
        self.load_seconds = time.perf_counter() - started
        assert self.batcher is not None
        self._worker = threading.Thread(
            target=in_thread(self.batcher.run), name=f"engine-{self.model_name}"
        )
        self._worker.daemon = True
        self._worker.start()
        log.info("model %s ready in %.1f s on %s", self.model_name, self.load_seconds, self._device)

    def _load(self) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        set_cpu_threads(self._config.num_threads or len(os.sched_getaffinity(0)))
        source = self._source or resolve_source(self._spec.source, self._cache_dir)
        folder = cached_model_dir(source, self._cache_dir, convert_gguf)
        self._tokenizer = AutoTokenizer.from_pretrained(folder)
        model: Any = AutoModelForCausalLM.from_pretrained(folder, dtype=self._dtype)
        model.to(self._device)
        self._architecture = str(model.config.model_type)  # shown by /api/show and /v1/models
        self._parameters = sum(p.numel() for p in model.parameters())
        try:
            runner = LlamaRunner(model.eval(), self._config.max_num_seqs, self._spec.max_model_len)
        except ValueError as exc:
            raise ConfigError(f"model {self.model_name}: {exc}") from exc
        self.batcher = ContinuousBatcher(
            runner,
            self._tokenizer,
            _eos_ids(self._tokenizer, model),
            self._queue,
            self._config.max_num_seqs,
        )
        self._runner = (
            runner  # the transformers module itself is dropped: the runner owns the weights
        )

    async def check_health(self) -> None:
        if self._worker is not None and not self._worker.is_alive():
            raise EngineError(f"engine worker of {self.model_name} stopped")

    async def shutdown(self) -> None:
        if self._worker is not None:
            self._queue.put(None)
            await asyncio.to_thread(self._worker.join, 10)
            self._worker = None
        self._runner = self.batcher = None  # free the weights

    # --- requests -----------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return {
            "engine": "torch",
            "device": str(self._device),
            "dtype": str(self._dtype).removeprefix("torch."),
            "max_model_len": self._spec.max_model_len,
            "source": self._spec.source,
            "architecture": self._architecture,
            "parameters": self._parameters,
        }

    @property
    def decoding(self) -> int:
        """Sequences the batcher is prefilling or decoding right now."""
        batcher = self.batcher
        if batcher is None:
            return 0
        return len(batcher.running) + (batcher.prefilling is not None)

    @property
    def in_flight(self) -> int:
        """Requests admitted and not yet finished (decoding or queued)."""
        return self._pending

    def count_tokens(self, text: str) -> int:
        self._require_loaded()
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def render_prompt(self, request: GenerationRequest) -> str:
        """The exact text the model sees: the chat template applied, or the raw prompt."""
        self._require_loaded()
        if request.prompt is not None:
            return request.prompt
        return str(
            self._tokenizer.apply_chat_template(
                list(request.messages or ()), add_generation_prompt=True, tokenize=False
            )
        )

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        self._require_loaded()
        prompt = self.render_prompt(request)
        prompt_ids = self._tokenizer(prompt, add_special_tokens=False)["input_ids"]
        check_context_length(len(prompt_ids), request.sampling.max_tokens, self._spec.max_model_len)
        self._admit()
        sequence = Sequence(request, prompt_ids, asyncio.get_running_loop(), asyncio.Queue())
        try:
            self._queue.put(sequence)
            while True:
                item = await sequence.out.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if item.finish_reason is not None:
                    return
        finally:
            sequence.cancelled = True  # no-op when finished; the worker drops it when abandoned
            self._release()

    def _require_loaded(self) -> None:
        if self._runner is None:
            raise ModelNotReadyError(f"model {self.model_name} is still loading", retry_after=2)

    def _admit(self) -> None:
        limit = self._config.max_num_seqs + self._config.max_queue
        with self._pending_lock:
            if self._pending >= limit:
                raise ServiceUnavailableError(
                    f"model {self.model_name} has {self._pending} requests in flight "
                    f"(limit {limit}); retry shortly",
                    code="queue_full",
                    retry_after=1,
                )
            self._pending += 1

    def _release(self) -> None:
        with self._pending_lock:
            self._pending -= 1


def set_cpu_threads(cores: int) -> None:
    """Give the matrix products (numpy's OpenBLAS, see ``LlamaRunner``) every core and keep
    torch's many tiny per-layer ops on one thread: measured fastest here, as two thread
    pools spinning on two cores slow each other down. Ray sets OMP_NUM_THREADS to a
    replica's num_cpus, which would otherwise cap both."""
    from threadpoolctl import ThreadpoolController

    torch.set_num_threads(1)
    ThreadpoolController().limit(limits=cores, user_api="blas")


def _pick_device(device: str) -> torch.device:
    if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ConfigError("device: cuda was asked for, but torch sees no CUDA device")
        return torch.device("cuda")
    return torch.device("cpu")


def _pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return _DTYPES[dtype]


def _eos_ids(tokenizer: Any, model: Any) -> set[int]:
    ids: set[int] = set()
    for value in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list):
            ids.update(v for v in value if isinstance(v, int))
    return ids
