"""The RayService ``serveConfigV2``: the echoray Serve config with in-cluster values
(deploy layer).

The args are the user's ``EchoRayConfig`` as written (``exclude_unset``), with what only
the cluster can know put in: LanceDB on object storage or the data volume, the model cache
on the shared volume (so a model is fetched and converted once, not by every replica),
HTTP on ``0.0.0.0:8000`` and auth on. API keys never enter a manifest: the pods get them
from the Secret as ``ECHORAY_AUTH__API_KEYS``, which the app builder applies at build time.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from echoray.config import (
    APP_IMPORT_PATH,
    EchoRayConfig,
    ModelSpec,
    config_from_args,
    load_config,
)
from echoray.deploy.documents import dump_yaml
from echoray.deploy.settings import (
    MODEL_CACHE_DIR,
    MODEL_CACHE_MOUNT,
    SERVE_PORT,
    DeployConfig,
    storage_target,
)
from echoray.errors import ConfigError

APP_NAME = "echoray"
# Auth fields whose values are secrets: rendered manifests leave them to the Secret.
SECRET_AUTH_FIELDS = ("api_keys", "admin_keys")
# Stands in for the Secret when render checks that the args make a valid config.
PLACEHOLDER_ENV = {"ECHORAY_AUTH__API_KEYS": '{"render-check": "render-check"}'}


def load_cluster_config(path: str | Path) -> EchoRayConfig:
    """Read a Serve config for rendering. The machine's ECHORAY_* variables are ignored on
    purpose (a manifest comes from the file and the options only); API keys are the
    Secret's business, so ``auth.enabled: true`` without keys is fine here.

    Raises:
        ConfigError: the file is missing or invalid.
    """
    return load_config(path, environ=PLACEHOLDER_ENV)


def needs_gpu(spec: ModelSpec) -> bool:
    """Whether a model's replicas must run on a GPU worker."""
    return spec.engine.kind == "vllm" or spec.deployment.num_gpus > 0


def gpus_per_worker(config: EchoRayConfig) -> int:
    """GPUs each GPU worker pod asks for: enough for the largest model replica."""
    return max([math.ceil(m.deployment.num_gpus) for m in config.models if needs_gpu(m)] or [1])


def check_models(config: EchoRayConfig, deploy: DeployConfig) -> None:
    """Raise ``ConfigError`` for models that cannot run as laid out in the cluster."""
    for index, spec in enumerate(config.models):
        source = spec.source
        if not (source.startswith(("builtin:", "/")) or "://" in source):
            raise ConfigError(
                f"models[{index}].source {source!r} is a relative path, which means nothing "
                "inside a pod: use builtin:NAME, an s3:// or gs:// URI, or an absolute path "
                f"in the image or on the model cache volume ({MODEL_CACHE_MOUNT})"
            )
        if spec.engine.kind == "vllm" and spec.deployment.num_gpus < 1:
            raise ConfigError(
                f"models[{index}] ({spec.name}) uses the vllm engine but asks for "
                f"deployment.num_gpus={spec.deployment.num_gpus}: set it to 1 or more"
            )
    gpu_models = [m.name for m in config.models if needs_gpu(m)]
    if gpu_models and not deploy.gpu:
        raise ConfigError(
            f"models {gpu_models} need GPUs (engine vllm or deployment.num_gpus > 0): "
            "render with --gpu to add the GPU worker group"
        )
    if deploy.gpu and not gpu_models:
        raise ConfigError(
            "--gpu adds a GPU worker group, but no model asks for a GPU: give a model "
            "engine.kind: vllm and deployment.num_gpus: 1"
        )


def cluster_app_args(config: EchoRayConfig, deploy: DeployConfig) -> dict[str, Any]:
    """The app builder's args for the cluster (see the module docstring).

    Raises:
        ConfigError: a model cannot run in the cluster, or the result is not a valid
            ``EchoRayConfig`` once the Secret's API keys are applied.
    """
    check_models(config, deploy)
    args = config.model_dump(mode="json", exclude_unset=True)
    args["storage"] = {"uri": storage_target(deploy, config.storage.uri).uri}
    args["cache"] = {"dir": MODEL_CACHE_DIR}
    args["server"] = {**args.get("server", {}), "host": "0.0.0.0", "port": SERVE_PORT}
    auth = {k: v for k, v in args.get("auth", {}).items() if k not in SECRET_AUTH_FIELDS}
    args["auth"] = {**auth, "enabled": True}
    ordered = {key: args[key] for key in EchoRayConfig.model_fields if key in args}
    config_from_args(ordered, PLACEHOLDER_ENV)  # fails here, not in the cluster
    return ordered


def make_serve_config(config: EchoRayConfig, deploy: DeployConfig) -> dict[str, Any]:
    """The Serve config document (the structure of ``deployments/local.yaml``)."""
    return {
        "proxy_location": "EveryNode",
        "http_options": {
            "host": "0.0.0.0",
            "port": SERVE_PORT,
            "request_timeout_s": config.limits.request_timeout_s,
        },
        "applications": [
            {
                "name": APP_NAME,
                "route_prefix": "/",
                "import_path": APP_IMPORT_PATH,
                "args": cluster_app_args(config, deploy),
            }
        ],
    }


def serve_config_text(serve_config: dict[str, Any]) -> str:
    """The Serve config as the YAML string ``serveConfigV2`` holds."""
    return dump_yaml(serve_config)
