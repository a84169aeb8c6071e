"""RayJob manifests for the batch jobs (deploy layer).

Each job gets its own short-lived Ray cluster (``shutdownAfterJobFinishes: true``) with
the same image, Secret and volumes as the service, and reads the same config from a
ConfigMap mounted at ``/etc/echoray/config.yaml``. The entrypoints are
``python -m echoray.jobs.<job>``.
"""

from __future__ import annotations

from typing import Any, Literal

from echoray.config import EchoRayConfig
from echoray.deploy.cluster import make_ray_cluster_spec
from echoray.deploy.resources import make_config_map, object_meta
from echoray.deploy.serve_config import make_serve_config, serve_config_text
from echoray.deploy.settings import DeployConfig, storage_target

Job = Literal["ingest", "consolidate"]
JOBS: tuple[Job, ...] = ("ingest", "consolidate")
CONFIG_PATH = "/etc/echoray/config.yaml"


def make_rayjob_documents(job: Job, config: EchoRayConfig, deploy: DeployConfig) -> list[dict]:
    """The job's ConfigMap and RayJob.

    Raises:
        ConfigError: the config cannot run in the cluster as asked.
    """
    name = f"{deploy.name}-{job}"
    target = storage_target(deploy, config.storage.uri)
    config_map = f"{name}-config"
    text = serve_config_text(make_serve_config(config, deploy))
    rayjob: dict[str, Any] = {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": object_meta(deploy, name, f"job-{job}"),
        "spec": {
            "entrypoint": f"python -m echoray.jobs.{job} --config {CONFIG_PATH}",
            # The driver needs a CPU, so it runs on a worker: the head has none for Ray.
            "entrypointNumCpus": 1,
            "shutdownAfterJobFinishes": True,
            "ttlSecondsAfterFinished": 600,
            "activeDeadlineSeconds": 7200,
            "backoffLimit": 0,
            "rayClusterSpec": make_ray_cluster_spec(
                deploy,
                target,
                workload=job,
                s3_sources=any(m.source.startswith("s3://") for m in config.models),
                config_map=config_map,
            ),
        },
    }
    files = {"config.yaml": text}
    return [make_config_map(deploy, config_map, files, f"job-{job}"), rayjob]
