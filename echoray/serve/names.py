"""Names of what echoray puts on a Ray cluster (serve layer, no Ray import).

Shard and Consolidator actors carry a key of the memory layout (``storage.uri`` and the
shard count), so two apps with different storage in one Ray cluster never share actors.
"""

from __future__ import annotations

import hashlib
import re

from echoray.config import EchoRayConfig

NAMESPACE = "echoray"


def storage_key(config: EchoRayConfig) -> str:
    """A short name for one memory layout: the storage and how it is split into shards.

    Apps of one Ray cluster with the same key share shard actors (and their data); apps
    with different storage get their own, instead of silently using another app's.
    """
    layout = f"{config.storage.uri}|{config.memory.num_shards}"
    return hashlib.sha256(layout.encode()).hexdigest()[:10]


def shard_name(config: EchoRayConfig, index: int) -> str:
    return f"echoray-memory-{storage_key(config)}-{index}"


def consolidator_name(config: EchoRayConfig) -> str:
    return f"echoray-consolidator-{storage_key(config)}"


def inference_deployment_name(model_name: str) -> str:
    """A stable, Serve-safe deployment name for a model; a short hash keeps names that
    differ only in replaced characters (``a.b``, ``a_b``) apart."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", model_name)
    if safe != model_name:
        safe += "-" + hashlib.sha256(model_name.encode()).hexdigest()[:6]
    return f"Inference-{safe}"
