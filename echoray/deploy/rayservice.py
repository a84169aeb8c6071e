"""The RayService manifest (deploy layer): the echoray Serve application on a Ray cluster
that KubeRay creates, upgrades and exposes as ``<name>-serve-svc`` on port 8000."""

from __future__ import annotations

from typing import Any

from echoray.config import EchoRayConfig
from echoray.deploy.cluster import make_ray_cluster_spec
from echoray.deploy.resources import make_volume_claims, object_meta
from echoray.deploy.serve_config import gpus_per_worker, make_serve_config, serve_config_text
from echoray.deploy.settings import DeployConfig, storage_target


def make_rayservice(config: EchoRayConfig, deploy: DeployConfig) -> dict[str, Any]:
    """The RayService for ``config`` laid out as ``deploy`` says.

    Raises:
        ConfigError: the config cannot run in the cluster as asked (see ``check_models``).
    """
    target = storage_target(deploy, config.storage.uri)
    serve_config = make_serve_config(config, deploy)
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": object_meta(deploy, deploy.name, "rayservice"),
        "spec": {
            # The head has no CPUs for Ray, so no replica; traffic goes to the workers.
            "excludeHeadPodFromServeSvc": True,
            "serveConfigV2": serve_config_text(serve_config),
            "rayClusterConfig": make_ray_cluster_spec(
                deploy,
                target,
                workload="service",
                gpus_per_worker=gpus_per_worker(config) if deploy.gpu else 0,
                s3_sources=any(m.source.startswith("s3://") for m in config.models),
            ),
        },
    }


def make_rayservice_documents(config: EchoRayConfig, deploy: DeployConfig) -> list[dict]:
    """What one install applies: the volume claims, then the RayService."""
    target = storage_target(deploy, config.storage.uri)
    return [*make_volume_claims(deploy, target), make_rayservice(config, deploy)]
