"""``VLLMEngine``: an adapter over vLLM's async engine (engine layer; extra ``echoray[vllm]``).

**It needs NVIDIA GPUs and cannot run on a CPU-only machine** (the development and CI
machines of this project have none). ``make_engine`` checks for vllm and CUDA first and
fails at start with a ``ConfigError`` saying what to install or where to run. vllm is
imported only when this engine is made, so ``import echoray`` never imports it.

The mapping from our ``SamplingParams`` to vLLM's is a pure function (``to_vllm_sampling``),
unit-tested against a stub of the vllm module.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from echoray.config import ModelSpec, VLLMEngineConfig
from echoray.engines.base import GenerationChunk, GenerationRequest, SamplingParams
from echoray.engines.sources import resolve_source
from echoray.engines.text import check_context_length
from echoray.errors import ConfigError, EngineError, ModelNotReadyError


def require_vllm_and_gpu() -> None:
    """Raise ``ConfigError`` unless vllm is installed and a CUDA GPU is visible."""
    if importlib.util.find_spec("vllm") is None:
        raise ConfigError(
            "engine kind 'vllm' needs vLLM: pip install 'echoray[vllm]' on a machine with "
            "NVIDIA GPUs, or use engine kind 'torch'"
        )
    import torch

    if not torch.cuda.is_available():
        raise ConfigError(
            "engine kind 'vllm' needs an NVIDIA GPU, and none is visible here; run this model "
            "on a GPU worker (deployment.num_gpus >= 1, see kuberay/rayservice-gpu.yaml) or "
            "use engine kind 'torch'"
        )


def to_vllm_sampling(params: SamplingParams, vllm_module: Any) -> Any:
    """Our sampling parameters as a ``vllm.SamplingParams`` streaming deltas."""
    from_kind = vllm_module.sampling_params.RequestOutputKind
    return vllm_module.SamplingParams(
        n=1,
        max_tokens=params.max_tokens,
        temperature=params.temperature,
        top_p=params.top_p,
        top_k=params.top_k,  # 0 disables top-k in vLLM too
        seed=params.seed,
        stop=list(params.stop) or None,
        presence_penalty=params.presence_penalty,
        frequency_penalty=params.frequency_penalty,
        output_kind=from_kind.DELTA,
    )


class VLLMEngine:
    """Streams from ``vllm.v1.engine.async_llm.AsyncLLM``; see the module docstring."""

    def __init__(self, spec: ModelSpec, model_path: str) -> None:
        if not isinstance(spec.engine, VLLMEngineConfig):
            raise TypeError("VLLMEngine needs an engine config of kind 'vllm'")
        self.model_name = spec.name
        self._spec = spec
        self._config = spec.engine
        self._model_path = model_path
        self._engine: Any = None
        self._tokenizer: Any = None

    async def start(self) -> None:
        import vllm
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        self._vllm = vllm
        args = AsyncEngineArgs(
            model=self._model_path,
            served_model_name=self.model_name,
            tensor_parallel_size=self._config.tensor_parallel_size,
            gpu_memory_utilization=self._config.gpu_memory_utilization,
            max_model_len=self._spec.max_model_len,
            max_num_seqs=self._config.max_num_seqs,
            dtype="auto" if self._spec.dtype == "auto" else self._spec.dtype,
        )
        self._engine = AsyncLLM.from_engine_args(args)
        self._tokenizer = await self._engine.get_tokenizer()

    async def check_health(self) -> None:
        if self._engine is None:
            return
        try:
            await self._engine.check_health()
        except Exception as exc:
            raise EngineError(f"vLLM engine of {self.model_name} is unhealthy: {exc!r}") from exc

    async def shutdown(self) -> None:
        if self._engine is not None:
            self._engine.shutdown()
            self._engine = None

    def info(self) -> dict[str, Any]:
        return {
            "engine": "vllm",
            "max_model_len": self._spec.max_model_len,
            "tensor_parallel_size": self._config.tensor_parallel_size,
            "source": self._spec.source,
        }

    def count_tokens(self, text: str) -> int:
        self._require_started()
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    def _prompt(self, request: GenerationRequest) -> str:
        if request.prompt is not None:
            return request.prompt
        return str(
            self._tokenizer.apply_chat_template(
                list(request.messages or ()), add_generation_prompt=True, tokenize=False
            )
        )

    def _require_started(self) -> None:
        if self._engine is None:
            raise ModelNotReadyError(f"model {self.model_name} is still loading", retry_after=5)

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        self._require_started()
        prompt = self._prompt(request)
        prompt_tokens = self.count_tokens(prompt)
        check_context_length(prompt_tokens, request.sampling.max_tokens, self._spec.max_model_len)
        sampling = to_vllm_sampling(request.sampling, self._vllm)
        produced = 0
        finished = False
        try:
            async for output in self._engine.generate(
                request_id=request.request_id, prompt=prompt, sampling_params=sampling
            ):
                completion = output.outputs[0]
                produced += len(completion.token_ids)
                finish = completion.finish_reason if output.finished else None
                finished = output.finished
                yield GenerationChunk(
                    completion.text,
                    len(output.prompt_token_ids or ()) or prompt_tokens,
                    produced,
                    None if finish is None else ("length" if finish == "length" else "stop"),
                )
        finally:
            if not finished:  # the caller went away: free vLLM's slot too
                await self._engine.abort(request.request_id)


def make_vllm_engine(spec: ModelSpec, cache_dir: Path) -> VLLMEngine:
    """Check the machine, then build the engine (weights from a folder, GGUF or URI)."""
    require_vllm_and_gpu()
    source = resolve_source(spec.source, cache_dir)
    return VLLMEngine(spec, str(source.path))
