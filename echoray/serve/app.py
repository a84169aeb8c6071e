"""``build_app``: the Serve application builder (serve layer).

``serve run deployments/local.yaml``, ``echoray serve`` and a KubeRay RayService all call
``build_app(args)`` with the config's ``args``; environment overrides (``ECHORAY_*``)
apply here, once, at build time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ray.serve import Application
from ray.serve.config import BackpressureConfig

from echoray.config import (
    DeploymentOptionsConfig,
    EchoRayConfig,
    ModelSpec,
    TorchEngineConfig,
    config_from_args,
)
from echoray.errors import ConfigError
from echoray.serve.deployments import (
    CognitiveDeployment,
    EmbedderDeployment,
    GatewayDeployment,
    InferenceDeployment,
)
from echoray.serve.names import inference_deployment_name


def deployment_options(options: DeploymentOptionsConfig) -> dict[str, Any]:
    """Serve ``.options(...)`` from our config; autoscaling is always explicit."""
    actor_options: dict[str, Any] = {"num_cpus": options.num_cpus, "num_gpus": options.num_gpus}
    if options.accelerator_type:
        actor_options["accelerator_type"] = options.accelerator_type
    if options.resources:
        actor_options["resources"] = dict(options.resources)
    result: dict[str, Any] = {
        "max_ongoing_requests": options.max_ongoing_requests,
        # A full queue sheds at once with 503 + Retry-After instead of growing.
        "max_queued_requests": options.max_queued_requests,
        "backpressure_config": BackpressureConfig(
            status_code=503, retry_after_s=options.retry_after_s
        ),
        "ray_actor_options": actor_options,
        "health_check_period_s": 10,
        "health_check_timeout_s": 30,
    }
    if options.autoscaling is not None:
        result["autoscaling_config"] = {
            "min_replicas": options.autoscaling.min_replicas,
            "max_replicas": options.autoscaling.max_replicas,
            "target_ongoing_requests": options.autoscaling.target_ongoing_requests,
        }
    else:
        result["num_replicas"] = options.num_replicas
    return result


def check_queue_bounds(spec: ModelSpec) -> None:
    """The engine, not Serve, must be where a model's requests wait (see ``ModelSpec``).

    Raises:
        ConfigError: the deployment takes fewer requests than the engine holds.
    """
    if isinstance(spec.engine, TorchEngineConfig):
        capacity = spec.engine.max_num_seqs + spec.engine.max_queue
        if spec.deployment.max_ongoing_requests < capacity:
            raise ConfigError(
                f"model {spec.name}: deployment.max_ongoing_requests "
                f"({spec.deployment.max_ongoing_requests}) is below engine.max_num_seqs + "
                f"engine.max_queue ({capacity}); raise it to {capacity} or lower max_queue, "
                "so a full engine answers 503 instead of Serve queueing without a bound"
            )


def build_app(
    args: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Application:
    """Build the echoray Serve application from builder ``args`` (an ``EchoRayConfig``).

    Raises:
        ConfigError: the config is invalid, or a model source cannot be found.
    """
    config = config_from_args(args, os.environ if environ is None else environ)
    return build_app_from_config(config.with_absolute_paths())


def build_app_from_config(config: EchoRayConfig) -> Application:
    for spec in config.models:
        check_queue_bounds(spec)
    models = {
        spec.name: InferenceDeployment.options(
            name=inference_deployment_name(spec.name), **deployment_options(spec.deployment)
        ).bind(spec.model_dump(mode="json"), config.cache.dir)
        for spec in config.models
    }
    embedder = None
    if config.embeddings.enabled:
        embedder = EmbedderDeployment.options(
            **deployment_options(config.embeddings.deployment)
        ).bind(config.embeddings.model_dump(mode="json"))
    cognition = None
    if embedder is not None and config.memory.enabled and config.cognition.enabled:
        cognition = CognitiveDeployment.options(
            **deployment_options(config.cognition.deployment)
        ).bind(config.model_dump(mode="json"), embedder)
    gateway = GatewayDeployment.options(**deployment_options(config.server.gateway))
    return gateway.bind(config.model_dump(mode="json"), models, embedder, cognition)
