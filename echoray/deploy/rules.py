"""Rules the KubeRay operator enforces that its CRD schemas do not (deploy layer).

From ``ray-operator/controllers/ray/utils/validation.go`` (v1.7.0): a RayService or RayJob
name is at most 47 characters and a RayCluster name at most 53, each a DNS-1035 label;
every group has a container; a group sets resources in ``rayStartParams`` or in
``resources``, not both; ``rayStartParams`` has no ``labels``; group labels are valid;
no suspended group with autoscaling; a RayService sets no head service name and a known
upgrade strategy; a RayJob's TTL needs ``shutdownAfterJobFinishes``, and so on below. A
manifest breaking one is accepted by the API server and then rejected by the operator,
so ``render`` refuses to write it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from echoray.errors import ConfigError

MAX_NAME = {"RayService": 47, "RayJob": 47, "RayCluster": 53}
UPGRADE_TYPES = ("NewCluster", "NewClusterWithIncrementalUpgrade", "None")
RESOURCE_PARAMS = ("num-cpus", "num-gpus", "memory", "resources")
AUTOSCALER_V2_ENV = "RAY_enable_autoscaler_v2"

_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def label_problems(labels: Mapping[str, Any], where: str) -> list[str]:
    """Kubernetes label syntax: qualified keys, values of at most 63 valid characters."""
    problems = []
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        if (
            (prefix and (len(prefix) > 253 or not _DNS_1123_SUBDOMAIN.match(prefix)))
            or len(name) > 63
            or not _LABEL_NAME.match(name)
        ):
            problems.append(f"{where}: invalid label key {key!r}")
        if not isinstance(value, str) or len(value) > 63:
            problems.append(f"{where}: label {key!r} must be a string of at most 63 characters")
        elif value and not _LABEL_NAME.match(value):
            problems.append(f"{where}: invalid value {value!r} for label {key!r}")
    return problems


def _name_problems(kind: str, name: str) -> list[str]:
    problems = []
    if len(name) > MAX_NAME[kind]:
        problems.append(f"{kind} name {name!r} is longer than {MAX_NAME[kind]} characters")
    if not _DNS_1035.match(name):
        problems.append(f"{kind} name {name!r} is not a DNS-1035 label")
    return problems


def _env_names(container: Mapping[str, Any]) -> set[str]:
    return {e.get("name", "") for e in container.get("env") or []}


def _group_problems(group: Mapping[str, Any], label: str, autoscaling: bool) -> list[str]:
    problems = []
    containers = group.get("template", {}).get("spec", {}).get("containers") or []
    if not containers:
        problems.append(f"{label}: the pod template needs at least one container")
    params = group.get("rayStartParams") or {}
    if any(params.get(key) for key in RESOURCE_PARAMS) and group.get("resources"):
        problems.append(f"{label}: resources set in both rayStartParams and resources")
    if "labels" in params:
        problems.append(f"{label}: rayStartParams['labels'] is not supported; use labels")
    problems += label_problems(group.get("labels") or {}, f"{label} labels")
    template_labels = group.get("template", {}).get("metadata", {}).get("labels") or {}
    problems += label_problems(template_labels, f"{label} pod labels")
    if autoscaling and group.get("suspend"):
        problems.append(f"{label}: a group cannot be suspended with autoscaling on")
    return problems


def cluster_spec_problems(spec: Mapping[str, Any], where: str) -> list[str]:
    """Rules on a RayCluster spec (also inside a RayService or RayJob)."""
    autoscaling = bool(spec.get("enableInTreeAutoscaling"))
    head = spec.get("headGroupSpec") or {}
    problems = _group_problems(head, f"{where} head group", autoscaling)
    head_containers = head.get("template", {}).get("spec", {}).get("containers") or [{}]
    head_env = _env_names(head_containers[0])
    if not autoscaling and AUTOSCALER_V2_ENV in head_env:
        problems.append(f"{where}: {AUTOSCALER_V2_ENV} needs enableInTreeAutoscaling: true")
    if (spec.get("autoscalerOptions") or {}).get("version") and AUTOSCALER_V2_ENV in head_env:
        problems.append(f"{where}: set autoscalerOptions.version or {AUTOSCALER_V2_ENV}")
    names: list[str] = []
    for group in spec.get("workerGroupSpecs") or []:
        name = str(group.get("groupName", ""))
        label = f"{where} worker group {name!r}"
        if name in names:
            problems.append(f"{label}: group names must be unique")
        names.append(name)
        problems += _group_problems(group, label, autoscaling)
        low, high = group.get("minReplicas", 0), group.get("maxReplicas", 0)
        replicas = group.get("replicas", low)
        if not low <= replicas <= high:
            problems.append(f"{label}: needs minReplicas <= replicas <= maxReplicas")
    return problems


def _rayservice_problems(spec: Mapping[str, Any]) -> list[str]:
    cluster = spec.get("rayClusterConfig") or {}
    problems = cluster_spec_problems(cluster, "rayClusterConfig")
    head_service = (cluster.get("headGroupSpec") or {}).get("headService") or {}
    if (head_service.get("metadata") or {}).get("name"):
        problems.append("headGroupSpec.headService.metadata.name must not be set")
    strategy = spec.get("upgradeStrategy") or {}
    kind = strategy.get("type")
    if kind is not None and kind not in UPGRADE_TYPES:
        problems.append(f"upgradeStrategy.type {kind!r} is not one of {UPGRADE_TYPES}")
    if kind == "NewClusterWithIncrementalUpgrade":
        options = strategy.get("clusterUpgradeOptions")
        if not cluster.get("enableInTreeAutoscaling"):
            problems.append("incremental upgrades need enableInTreeAutoscaling: true")
        if not options:
            problems.append("incremental upgrades need upgradeStrategy.clusterUpgradeOptions")
        else:
            surge = options.get("maxSurgePercent", 100)
            step = options.get("stepSizePercent")
            if not options.get("gatewayClassName"):
                problems.append("clusterUpgradeOptions.gatewayClassName is required")
            if step is None or not 0 <= step <= surge <= 100:
                problems.append("need 0 <= stepSizePercent <= maxSurgePercent <= 100")
            if (options.get("intervalSeconds") or 0) <= 0:
                problems.append("clusterUpgradeOptions.intervalSeconds must be > 0")
    if spec.get("rayClusterDeletionDelaySeconds", 0) < 0:
        problems.append("rayClusterDeletionDelaySeconds must not be negative")
    try:
        serve_config = yaml.safe_load(spec.get("serveConfigV2") or "")
    except yaml.YAMLError as exc:
        return [*problems, f"serveConfigV2 is not valid YAML: {exc}"]
    if not isinstance(serve_config, dict) or not serve_config.get("applications"):
        problems.append("serveConfigV2 must be a Serve config with applications")
    return problems


def _rayjob_problems(spec: Mapping[str, Any]) -> list[str]:
    problems = []
    shutdown = bool(spec.get("shutdownAfterJobFinishes"))
    if spec.get("suspend") and not shutdown:
        problems.append("a suspended RayJob needs shutdownAfterJobFinishes: true")
    ttl = spec.get("ttlSecondsAfterFinished", 0)
    if ttl < 0:
        problems.append("ttlSecondsAfterFinished must not be negative")
    if ttl > 0 and not shutdown:
        problems.append("ttlSecondsAfterFinished needs shutdownAfterJobFinishes: true")
    if not spec.get("rayClusterSpec") and not spec.get("clusterSelector"):
        problems.append("set rayClusterSpec or clusterSelector")
    if spec.get("rayClusterSpec"):
        problems += cluster_spec_problems(spec["rayClusterSpec"], "rayClusterSpec")
    try:
        yaml.safe_load(spec.get("runtimeEnvYAML") or "")
    except yaml.YAMLError as exc:
        problems.append(f"runtimeEnvYAML is not valid YAML: {exc}")
    if spec.get("activeDeadlineSeconds") is not None and spec["activeDeadlineSeconds"] <= 0:
        problems.append("activeDeadlineSeconds must be positive")
    if spec.get("backoffLimit", 0) < 0:
        problems.append("backoffLimit must not be negative")
    return problems


def operator_problems(document: Mapping[str, Any]) -> list[str]:
    """What the KubeRay operator would reject in ``document``; empty for other kinds."""
    kind = document.get("kind", "")
    if kind not in MAX_NAME:
        return []
    metadata = document.get("metadata") or {}
    problems = _name_problems(kind, str(metadata.get("name", "")))
    problems += label_problems(metadata.get("labels") or {}, f"{kind} labels")
    spec = document.get("spec") or {}
    if kind == "RayService":
        problems += _rayservice_problems(spec)
    elif kind == "RayJob":
        problems += _rayjob_problems(spec)
    else:
        problems += cluster_spec_problems(spec, "spec")
    return problems


def check_operator_rules(documents: Iterable[Mapping[str, Any]]) -> None:
    """Raise ``ConfigError`` listing every rule a document breaks."""
    problems = [
        f"{doc.get('kind')} {doc.get('metadata', {}).get('name')!r}: {problem}"
        for doc in documents
        for problem in operator_problems(doc)
    ]
    if problems:
        raise ConfigError("the KubeRay operator would reject this: " + "; ".join(problems))
