"""The Ray cluster inside a RayService or RayJob: head and worker groups (deploy layer).

- The head runs with ``num-cpus: "0"``: GCS, the dashboard, the Serve controller and the
  autoscaler live there, no replicas or tasks.
- The CPU group holds the gateway, the embedder, CPU models and (later) memory shards.
- The GPU group (``--gpu``) asks for ``nvidia.com/gpu``, starts at zero pods and is grown
  by the in-tree autoscaler when a GPU replica is pending. Ray keeps CPU-only work off GPU
  nodes while CPU nodes have room.
- Every pod mounts the shared model cache claim, gets the Secret's values as environment
  variables (the app builder and replicas read ``ECHORAY_*`` there), and, with ``pvc``
  storage, the data claim. Workers are ready when ``/readyz`` answers 200.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from echoray.deploy.images import RAY_VERSION
from echoray.deploy.settings import (
    DATA_MOUNT,
    METRICS_PORT,
    MODEL_CACHE_MOUNT,
    SERVE_PORT,
    DeployConfig,
    StorageTarget,
)

Workload = Literal["service", "ingest", "consolidate"]

RAY_USER_GROUP = 100  # the `users` group of the rayproject images: makes volumes writable
GCP_CREDENTIALS_DIR = "/var/run/secrets/echoray-gcp"

HEAD_RESOURCES = {
    "requests": {"cpu": "1", "memory": "4Gi"},
    "limits": {"cpu": "2", "memory": "4Gi"},
}
CPU_WORKER_RESOURCES = {
    "requests": {"cpu": "4", "memory": "8Gi"},
    "limits": {"cpu": "4", "memory": "8Gi"},
}
GPU_WORKER_CPU, GPU_WORKER_MEMORY = "8", "32Gi"
AUTOSCALER_RESOURCES = {
    "requests": {"cpu": "500m", "memory": "512Mi"},
    "limits": {"cpu": "500m", "memory": "512Mi"},
}

HEAD_PORTS = {
    "gcs-server": 6379,
    "dashboard": 8265,
    "client": 10001,
    "serve": SERVE_PORT,
    "metrics": METRICS_PORT,
    "as-metrics": 44217,  # autoscaler metrics
    "dash-metrics": 44227,  # dashboard metrics
}
WORKER_PORTS = {"serve": SERVE_PORT, "metrics": METRICS_PORT}


def pod_labels(deploy: DeployConfig, component: str, workload: Workload) -> dict[str, str]:
    """Labels on every pod; the PodMonitors select on them."""
    return {
        "app.kubernetes.io/name": "echoray",
        "app.kubernetes.io/instance": deploy.name,
        "app.kubernetes.io/component": component,
        "echoray.io/workload": workload,
    }


def secret_env(
    deploy: DeployConfig, target: StorageTarget, *, s3_sources: bool
) -> list[dict[str, Any]]:
    """Environment from the Secret. Only the API keys are required: object-store keys are
    optional so that credentials from a service account (IRSA, workload identity) work."""

    def from_secret(name: str, key: str, *, optional: bool) -> dict[str, Any]:
        ref = {"name": deploy.secret_name, "key": key, "optional": optional}
        return {"name": name, "valueFrom": {"secretKeyRef": ref}}

    env = [
        from_secret("ECHORAY_AUTH__API_KEYS", "api-keys", optional=False),
        from_secret("ECHORAY_AUTH__ADMIN_KEYS", "admin-keys", optional=True),
    ]
    if target.kind == "s3" or s3_sources:
        env += [
            from_secret("AWS_ACCESS_KEY_ID", "aws-access-key-id", optional=True),
            from_secret("AWS_SECRET_ACCESS_KEY", "aws-secret-access-key", optional=True),
            from_secret("AWS_REGION", "aws-region", optional=True),
            from_secret("AWS_ENDPOINT_URL", "aws-endpoint-url", optional=True),
        ]
    if target.kind == "gs":
        env.append(
            {
                "name": "GOOGLE_APPLICATION_CREDENTIALS",
                "value": f"{GCP_CREDENTIALS_DIR}/credentials.json",
            }
        )
    return env


def ray_env(deploy: DeployConfig, target: StorageTarget, *, s3_sources: bool) -> list[dict]:
    """The environment of every Ray container: offline hubs plus the Secret's values."""
    offline = [
        # Models come from the image, the cache volume or object storage, never a hub.
        {"name": "HF_HUB_OFFLINE", "value": "1"},
        {"name": "TRANSFORMERS_OFFLINE", "value": "1"},
        # Serve's proxy loads echoray's request-id middleware (echoray.serve.proxy).
        {
            "name": "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH",
            "value": "echoray.serve.proxy:proxy_middlewares",
        },
    ]
    return offline + secret_env(deploy, target, s3_sources=s3_sources)


def _volumes(
    deploy: DeployConfig, target: StorageTarget, shm_size: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    volumes: list[dict[str, Any]] = [
        # Ray's object store wants a large /dev/shm; the container default is 64 MiB.
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": shm_size}},
        {"name": "model-cache", "persistentVolumeClaim": {"claimName": deploy.model_cache_claim}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "dshm", "mountPath": "/dev/shm"},
        {"name": "model-cache", "mountPath": MODEL_CACHE_MOUNT},
    ]
    if target.kind == "pvc":
        volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": deploy.data_claim}})
        mounts.append({"name": "data", "mountPath": DATA_MOUNT})
    if target.kind == "gs":
        items = [{"key": "gcp-credentials.json", "path": "credentials.json"}]
        secret = {"secretName": deploy.secret_name, "items": items}
        volumes.append({"name": "gcp-credentials", "secret": secret})
        mounts.append({"name": "gcp-credentials", "mountPath": GCP_CREDENTIALS_DIR})
    return volumes, mounts


def _container(
    name: str,
    image: str,
    resources: dict[str, Any],
    ports: dict[str, int],
    env: list[dict[str, Any]],
    mounts: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "resources": resources,
        "ports": [{"name": port, "containerPort": number} for port, number in ports.items()],
        "env": env,
        "volumeMounts": mounts,
    }


def _as_worker(container: dict[str, Any], readiness: bool) -> dict[str, Any]:
    container["lifecycle"] = {"preStop": {"exec": {"command": ["/bin/sh", "-c", "ray stop"]}}}
    if readiness:
        # Through the node's Serve proxy to the gateway: 200 once every model is loaded.
        container["readinessProbe"] = {
            "httpGet": {"path": "/readyz", "port": "serve"},
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        }
    return container


def _pod_template(
    labels: dict[str, str],
    container: dict[str, Any],
    volumes: list[dict[str, Any]],
    tolerations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "securityContext": {"fsGroup": RAY_USER_GROUP},
        "containers": [container],
        "volumes": volumes,
    }
    if tolerations:
        spec["tolerations"] = tolerations
    return {"metadata": {"labels": labels}, "spec": spec}


def make_ray_cluster_spec(
    deploy: DeployConfig,
    target: StorageTarget,
    *,
    workload: Workload,
    gpus_per_worker: int = 0,
    s3_sources: bool = False,
    extra_env: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A RayCluster spec (``rayClusterConfig`` of a RayService, ``rayClusterSpec`` of a
    RayJob). ``gpus_per_worker`` > 0 adds the GPU group; ``extra_env`` is added to every
    container's environment (a job's connection to the service)."""
    env = ray_env(deploy, target, s3_sources=s3_sources) + list(extra_env)
    serving = workload == "service"

    head_volumes, head_mounts = _volumes(deploy, target, "1Gi")
    head = _container("ray-head", deploy.image, HEAD_RESOURCES, HEAD_PORTS, env, head_mounts)
    groups = []
    cpu_volumes, cpu_mounts = _volumes(deploy, target, "2Gi")
    cpu = _container(
        "ray-worker", deploy.image, CPU_WORKER_RESOURCES, WORKER_PORTS, env, cpu_mounts
    )
    groups.append(
        {
            "groupName": "cpu",
            "replicas": deploy.min_cpu_workers,
            "minReplicas": deploy.min_cpu_workers,
            "maxReplicas": max(deploy.max_cpu_workers, deploy.min_cpu_workers),
            "rayStartParams": {"metrics-export-port": str(METRICS_PORT)},
            "template": _pod_template(
                pod_labels(deploy, "cpu-worker", workload),
                _as_worker(cpu, readiness=serving),
                cpu_volumes,
            ),
        }
    )
    if gpus_per_worker > 0:
        gpu_volumes, gpu_mounts = _volumes(deploy, target, "8Gi")
        quantity = {"cpu": GPU_WORKER_CPU, "memory": GPU_WORKER_MEMORY}
        quantity["nvidia.com/gpu"] = str(gpus_per_worker)
        resources = {"requests": dict(quantity), "limits": dict(quantity)}
        gpu = _container(
            "ray-worker", deploy.resolved_gpu_image, resources, WORKER_PORTS, env, gpu_mounts
        )
        groups.append(
            {
                "groupName": "gpu",
                "replicas": 0,
                "minReplicas": 0,
                "maxReplicas": deploy.max_gpu_workers,
                "rayStartParams": {"metrics-export-port": str(METRICS_PORT)},
                "template": _pod_template(
                    pod_labels(deploy, "gpu-worker", workload),
                    _as_worker(gpu, readiness=serving),
                    gpu_volumes,
                    # GPU node pools are commonly tainted so that only GPU pods land there.
                    [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                ),
            }
        )
    return {
        "rayVersion": RAY_VERSION,
        "enableInTreeAutoscaling": True,
        "autoscalerOptions": {
            "upscalingMode": "Default",
            "idleTimeoutSeconds": 60,
            "resources": AUTOSCALER_RESOURCES,
        },
        "headGroupSpec": {
            "rayStartParams": {
                "num-cpus": "0",  # nothing is scheduled on the head
                "dashboard-host": "0.0.0.0",
                "metrics-export-port": str(METRICS_PORT),
            },
            "template": _pod_template(pod_labels(deploy, "head", workload), head, head_volumes),
        },
        "workerGroupSpecs": groups,
    }
