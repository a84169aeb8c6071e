"""RayJob manifests for the batch jobs (deploy layer).

The jobs in ``echoray.jobs`` are HTTP clients of a running echoray service, so each RayJob
runs its job against the RayService's Serve service in the same namespace
(``--url http://<name>-serve-svc:8000``), on its own short-lived Ray cluster
(``shutdownAfterJobFinishes: true``) with the same image, Secret and volumes as the
service. The job reads its API key from ``$ECHORAY_API_KEY``, which the pods take from one
key of the Secret:

- ingest: ``ingest-api-key``, a key listed in ``api-keys`` (it picks the tenant the
  memories belong to); it reads ``DeployConfig.ingest_source`` (by default
  ``/data/ingest/memories.jsonl`` on the data claim), each row's user from its ``user``
  column unless ``DeployConfig.ingest_user`` names one user for every row;
- consolidate: ``consolidate-admin-key``, a key listed in ``admin-keys``
  (``/v1/admin/consolidate`` needs one when auth is on, and in the cluster it is).
"""

from __future__ import annotations

import shlex
from typing import Any, Literal

from echoray.config import EchoRayConfig
from echoray.deploy.cluster import make_ray_cluster_spec
from echoray.deploy.resources import object_meta
from echoray.deploy.settings import SERVE_PORT, DeployConfig, storage_target

Job = Literal["ingest", "consolidate"]
JOBS: tuple[Job, ...] = ("ingest", "consolidate")
API_KEY_ENV = "ECHORAY_API_KEY"  # what echoray.jobs.progress reads when --api-key is unset
# The Secret key holding each job's API key.
SECRET_KEYS: dict[Job, str] = {
    "ingest": "ingest-api-key",
    "consolidate": "consolidate-admin-key",
}
USER_COLUMN = "user"


def service_url(deploy: DeployConfig) -> str:
    """The echoray HTTP API inside the cluster: the Serve Service KubeRay creates for the
    RayService (``<name>-serve-svc``), resolved in the job's namespace."""
    return f"http://{deploy.name}-serve-svc:{SERVE_PORT}"


def job_arguments(job: Job, deploy: DeployConfig) -> list[str]:
    """The arguments of ``python -m echoray.jobs.<job>`` (the API key comes from the
    environment, so that it never appears in the manifest)."""
    arguments: list[str] = []
    if job == "ingest":
        arguments.append(deploy.ingest_source)
        if deploy.ingest_user is not None:
            arguments += ["--user", deploy.ingest_user]
        else:
            arguments += ["--user-column", USER_COLUMN]
    return [*arguments, "--url", service_url(deploy)]


def entrypoint(job: Job, deploy: DeployConfig) -> str:
    """The RayJob's entrypoint: a shell command line (Ray runs it with a shell)."""
    return shlex.join(["python", "-m", f"echoray.jobs.{job}", *job_arguments(job, deploy)])


def job_env(job: Job, deploy: DeployConfig) -> list[dict[str, Any]]:
    """``$ECHORAY_API_KEY`` from the Secret. Required: with auth on, the job can do nothing
    without it, so the pods do not start until the Secret has the key."""
    ref = {"name": deploy.secret_name, "key": SECRET_KEYS[job], "optional": False}
    return [{"name": API_KEY_ENV, "valueFrom": {"secretKeyRef": ref}}]


def make_rayjob_documents(job: Job, config: EchoRayConfig, deploy: DeployConfig) -> list[dict]:
    """The job's RayJob (alone: the job needs no config of its own).

    Raises:
        ConfigError: the config cannot run in the cluster as asked.
    """
    name = f"{deploy.name}-{job}"
    target = storage_target(deploy, config.storage.uri)
    rayjob: dict[str, Any] = {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": object_meta(deploy, name, f"job-{job}"),
        "spec": {
            "entrypoint": entrypoint(job, deploy),
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
                extra_env=job_env(job, deploy),
            ),
        },
    }
    return [rayjob]
