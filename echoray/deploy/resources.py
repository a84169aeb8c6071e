"""Core Kubernetes objects beside the Ray ones: volume claims and the Secret (deploy
layer). Also the metadata every rendered object carries."""

from __future__ import annotations

from typing import Any

from echoray.deploy.settings import DeployConfig, StorageTarget

# Values the example Secret carries. They are not valid JSON on purpose: a Secret applied
# unchanged makes the app builder fail at start instead of accepting a published key.
PLACEHOLDER = "REPLACE-ME"


def object_meta(deploy: DeployConfig, name: str, component: str) -> dict[str, Any]:
    """``metadata`` of a rendered object: its name, the namespace if one was asked for,
    and the labels that tie it to this install."""
    meta: dict[str, Any] = {"name": name}
    if deploy.namespace:
        meta["namespace"] = deploy.namespace
    meta["labels"] = {
        "app.kubernetes.io/name": "echoray",
        "app.kubernetes.io/instance": deploy.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "echoray-deploy",
    }
    return meta


def _claim(deploy: DeployConfig, name: str, size: str, component: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": [deploy.access_mode],
        "resources": {"requests": {"storage": size}},
    }
    if deploy.storage_class:
        spec["storageClassName"] = deploy.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": object_meta(deploy, name, component),
        "spec": spec,
    }


def make_volume_claims(deploy: DeployConfig, target: StorageTarget) -> list[dict[str, Any]]:
    """The model cache claim every pod shares, and the data claim with ``pvc`` storage."""
    claims = [_claim(deploy, deploy.model_cache_claim, deploy.model_cache_size, "model-cache")]
    if target.kind == "pvc":
        claims.append(_claim(deploy, deploy.data_claim, deploy.data_size, "data"))
    return claims


def make_secret_example(
    deploy: DeployConfig, target: StorageTarget, *, s3_sources: bool = False
) -> dict[str, Any]:
    """The Secret the pods read, with placeholder values for the keys it needs.

    ``api-keys`` is a JSON object mapping API keys to tenants. The RayJobs read one key
    each: ``ingest-api-key`` (one of ``api-keys``: its tenant gets the memories) and
    ``consolidate-admin-key`` (one of ``admin-keys``). Optional keys are left out:
    ``admin-keys`` (a JSON list) and ``aws-endpoint-url`` (S3-compatible stores only).
    """
    data = {
        "api-keys": f'{PLACEHOLDER}: a JSON object {{"<api key>": "<tenant>", ...}}',
        "ingest-api-key": f"{PLACEHOLDER}: one key of api-keys (its tenant gets the memories)",
        "consolidate-admin-key": f"{PLACEHOLDER}: one key of admin-keys",
    }
    if target.kind == "s3" or s3_sources:
        for key in ("aws-access-key-id", "aws-secret-access-key", "aws-region"):
            data[key] = PLACEHOLDER
    if target.kind == "gs":
        data["gcp-credentials.json"] = f"{PLACEHOLDER}: a service account key file"
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": object_meta(deploy, deploy.secret_name, "secrets"),
        "type": "Opaque",
        "stringData": data,
    }
