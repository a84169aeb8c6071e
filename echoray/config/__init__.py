"""Configuration: one pydantic model, ``EchoRayConfig`` (core layer), a module a concern:
``engines`` (models, engines, embeddings), ``server`` (HTTP, auth, limits, storage),
``memory``, ``cognition``, ``consolidation``; ``base`` holds what sections share.

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
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from echoray.config.base import AutoscalingConfig, DeploymentOptionsConfig, Strict
from echoray.config.cognition import CognitionConfig, ResonanceWeightsConfig
from echoray.config.consolidation import ConsolidationConfig, PromotedRole
from echoray.config.engines import (
    DEFAULT_MODEL_NAME,
    EmbeddingsConfig,
    EngineConfig,
    FakeEngineConfig,
    ModelSpec,
    TorchEngineConfig,
    VLLMEngineConfig,
)
from echoray.config.memory import MemoryConfig
from echoray.config.server import (
    AuthConfig,
    CacheConfig,
    LimitsConfig,
    ServerConfig,
    StorageConfig,
)
from echoray.errors import ConfigError, validation_problems

__all__ = [
    "APP_IMPORT_PATH",
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_MODEL_NAME",
    "ENV_PREFIX",
    "AuthConfig",
    "AutoscalingConfig",
    "CacheConfig",
    "CognitionConfig",
    "ConsolidationConfig",
    "DeploymentOptionsConfig",
    "EchoRayConfig",
    "EmbeddingsConfig",
    "EngineConfig",
    "FakeEngineConfig",
    "LimitsConfig",
    "MemoryConfig",
    "ModelSpec",
    "PromotedRole",
    "ResonanceWeightsConfig",
    "ServerConfig",
    "StorageConfig",
    "TorchEngineConfig",
    "VLLMEngineConfig",
    "apply_env_overrides",
    "config_from_args",
    "load_config",
]

ENV_PREFIX = "ECHORAY_"
DEFAULT_CONFIG_PATH = Path("deployments/local.yaml")
APP_IMPORT_PATH = "echoray.serve.app:build_app"


class EchoRayConfig(Strict):
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
        problems = validation_problems(exc.errors())
        raise ConfigError(f"invalid echoray config: {problems}") from exc


def apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Return a copy of ``data`` with every ``ECHORAY_A__B=value`` applied at ``a.b``.

    Only variables whose first part names a section of the config (``SERVER``,
    ``MODELS``, ``AUTH``…) are overrides. The clients' settings share the prefix
    (``ECHORAY_URL``, ``ECHORAY_API_KEY``, read by the jobs, the notebooks and the Python
    client) and are left alone, so exporting them never breaks ``echoray serve``.

    Raises:
        ConfigError: a nested override (``ECHORAY_X__Y``) names no section of the config.
    """
    result = copy.deepcopy(data)
    sections = EchoRayConfig.model_fields
    for key in sorted(environ):
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX:
            continue
        path = [part.lower() for part in key[len(ENV_PREFIX) :].split("__")]
        if path[0] not in sections:
            if len(path) > 1:  # meant for the config, but misspelt: say so
                raise ConfigError(
                    f"{key}: the config has no section {path[0]!r}; "
                    f"sections: {', '.join(sorted(sections))}"
                )
            continue  # a client's setting, not the server's
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
