"""``DeployConfig``: how echoray is laid out on Kubernetes (deploy layer).

The ``EchoRayConfig`` says what is served; this says where: the RayService name, images,
where LanceDB lives, volume sizes and worker counts. Names of the Secret and the volume
claims derive from ``name``, so two installs can share a namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from echoray import __version__
from echoray.deploy.images import default_image, gpu_image_for
from echoray.protocol.ids import IDENTIFIER_SCHEMA

# KubeRay's operator rejects a RayService or RayJob name over 47 characters or not a
# DNS-1035 label (ray-operator/controllers/ray/utils/validation.go).
MAX_NAME_LENGTH = 47
DNS_1035_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
DNS_1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
QUANTITY = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$"

MODEL_CACHE_MOUNT = "/models"
MODEL_CACHE_DIR = f"{MODEL_CACHE_MOUNT}/cache"
DATA_MOUNT = "/data"
DEFAULT_INGEST_SOURCE = f"{DATA_MOUNT}/ingest/memories.jsonl"
SERVE_PORT = 8000
METRICS_PORT = 8080


class DeployConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        "echoray",
        max_length=MAX_NAME_LENGTH,
        pattern=DNS_1035_LABEL,
        description="RayService name; prefixes the Secret, volume claims and jobs.",
    )
    namespace: str | None = Field(
        None,
        max_length=63,
        pattern=DNS_1123_LABEL,
        description="Namespace written into the manifests; unset leaves it to kubectl.",
    )
    image: str = Field(
        default_image(__version__), min_length=1, description="echoray image (CPU pods)."
    )
    gpu_image: str | None = Field(
        None, description="echoray image for GPU workers; unset derives `<image>-gpu`."
    )
    gpu: bool = Field(False, description="Add the GPU worker group for vLLM models.")
    storage: str | None = Field(
        None,
        pattern=r"^(pvc|s3://.+|gs://.+)$",
        description="LanceDB location: `pvc` (a volume claim) or an s3:// / gs:// URI; "
        "unset keeps the config's storage.uri when it is remote, else `pvc`.",
    )
    storage_class: str | None = Field(None, description="StorageClass of the volume claims.")
    access_mode: Literal["ReadWriteMany", "ReadWriteOnce"] = Field(
        "ReadWriteMany",
        description="Access mode of the claims; ReadWriteOnce only for one-node clusters.",
    )
    model_cache_size: str = Field(
        "50Gi", pattern=QUANTITY, description="Size of the model cache claim."
    )
    data_size: str = Field(
        "20Gi", pattern=QUANTITY, description="Size of the data claim (pvc storage)."
    )
    min_cpu_workers: int = Field(1, ge=0, description="Fewest CPU workers.")
    max_cpu_workers: int = Field(4, ge=1, description="Most CPU workers.")
    max_gpu_workers: int = Field(2, ge=1, description="Most GPU workers (the fewest is 0).")
    ingest_source: str = Field(
        DEFAULT_INGEST_SOURCE,
        pattern=r"^/\S*$",
        description="File or folder the ingest RayJob reads: an absolute path in its pods "
        "(the data claim is at /data with pvc storage).",
    )
    ingest_user: str | None = Field(
        None,
        pattern=IDENTIFIER_SCHEMA,
        description="The ingest RayJob stores every row as this user; unset reads each "
        "row's `user` column.",
    )

    @model_validator(mode="after")
    def _gpu_image_derivable(self) -> DeployConfig:
        if self.gpu and self.gpu_image is None and "@" in self.image:
            raise ValueError("an image given by digest needs an explicit gpu_image (--gpu-image)")
        return self

    @property
    def secret_name(self) -> str:
        return f"{self.name}-secrets"

    @property
    def model_cache_claim(self) -> str:
        return f"{self.name}-model-cache"

    @property
    def data_claim(self) -> str:
        return f"{self.name}-data"

    @property
    def resolved_gpu_image(self) -> str:
        return self.gpu_image or gpu_image_for(self.image)


@dataclass(frozen=True)
class StorageTarget:
    """Where LanceDB lives in the cluster: a volume claim or an object store."""

    kind: Literal["pvc", "s3", "gs"]
    uri: str


def storage_target(deploy: DeployConfig, config_uri: str) -> StorageTarget:
    """The storage a deployment uses: ``deploy.storage``, else the config's remote URI,
    else a volume claim mounted at ``/data``."""
    choice = deploy.storage
    if choice is None:
        choice = config_uri if config_uri.startswith(("s3://", "gs://")) else "pvc"
    if choice == "pvc":
        return StorageTarget("pvc", DATA_MOUNT)
    return StorageTarget("s3" if choice.startswith("s3://") else "gs", choice)
