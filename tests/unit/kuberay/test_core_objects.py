"""Core objects (Secret, PersistentVolumeClaim) validate with
kubernetes-validate's bundled Kubernetes schemas, strictly (unknown fields are errors).
PodMonitors belong to the Prometheus operator, whose CRD is not available offline (and is
not ours to vendor): their fields are checked against the names of the operator's
monitoring.coreos.com/v1 PodMonitor API that echoray uses, and what ties them to the pods
is checked here."""

from __future__ import annotations

import re
from typing import Any

import kubernetes_validate
import pytest

KUBERNETES_VERSION = "1.31"  # within the range KubeRay v1.7.0 supports


def core_documents(all_documents: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    return [(n, d) for n, d in all_documents if not d["apiVersion"].startswith("ray.io")]


def test_core_objects_validate_with_kubernetes_validate(
    all_documents: list[tuple[str, dict]],
) -> None:
    kinds = set()
    for name, doc in core_documents(all_documents):
        if doc["kind"] == "PodMonitor":
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name}: {doc['kind']} {doc['metadata']['name']}: {exc}")
        kinds.add(doc["kind"])
    assert kinds == {"Secret", "PersistentVolumeClaim"}


def test_kubernetes_validate_is_strict(committed: dict[str, list[dict]]) -> None:
    claim = dict(committed["rayservice-cpu.yaml"][0])
    claim["spec"] = {**claim["spec"], "accesMode": ["ReadWriteOnce"]}
    with pytest.raises(kubernetes_validate.ValidationError, match="accesMode"):
        kubernetes_validate.validate(claim, KUBERNETES_VERSION, strict=True)


# Fields of the PodMonitor API (monitoring.coreos.com/v1) a rendered monitor may use; a
# misspelt field would be silently ignored by the operator, so it fails here instead.
POD_MONITOR_SPEC_FIELDS = {"selector", "namespaceSelector", "podMetricsEndpoints", "jobLabel"}
POD_METRICS_ENDPOINT_FIELDS = {"port", "path", "interval", "scrapeTimeout", "scheme"}
DURATION = re.compile(r"^[0-9]+(ms|s|m|h)$")


def test_pod_monitors_use_only_known_fields(committed: dict[str, list[dict]]) -> None:
    for monitor in committed["podmonitors.yaml"]:
        assert (monitor["apiVersion"], monitor["kind"]) == (
            "monitoring.coreos.com/v1",
            "PodMonitor",
        )
        assert set(monitor) == {"apiVersion", "kind", "metadata", "spec"}
        spec = monitor["spec"]
        assert set(spec) <= POD_MONITOR_SPEC_FIELDS, set(spec) - POD_MONITOR_SPEC_FIELDS
        assert set(spec["selector"]) == {"matchLabels"} and spec["selector"]["matchLabels"]
        assert spec["podMetricsEndpoints"], "a monitor without endpoints scrapes nothing"
        for endpoint in spec["podMetricsEndpoints"]:
            assert set(endpoint) <= POD_METRICS_ENDPOINT_FIELDS, endpoint
            assert isinstance(endpoint["port"], str) and endpoint["path"].startswith("/")
            assert DURATION.match(endpoint.get("interval", "30s"))


def pod_templates(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    templates = []
    for doc in docs:
        spec = doc.get("spec", {})
        cluster = spec.get("rayClusterConfig") or spec.get("rayClusterSpec")
        if cluster:
            templates.append(cluster["headGroupSpec"]["template"])
            templates += [group["template"] for group in cluster["workerGroupSpecs"]]
    return templates


def test_pod_monitors_select_pods_that_have_their_ports(
    committed: dict[str, list[dict]],
) -> None:
    templates = pod_templates(
        committed["rayservice-cpu.yaml"]
        + committed["rayservice-gpu.yaml"]
        + committed["rayjob-ingest.yaml"]
    )
    for monitor in committed["podmonitors.yaml"]:
        wanted = monitor["spec"]["selector"]["matchLabels"]
        selected = [t for t in templates if wanted.items() <= t["metadata"]["labels"].items()]
        assert selected, monitor["metadata"]["name"]
        ports = {
            port["name"]
            for template in selected
            for container in template["spec"]["containers"]
            for port in container["ports"]
        }
        for endpoint in monitor["spec"]["podMetricsEndpoints"]:
            assert endpoint["port"] in ports, (monitor["metadata"]["name"], endpoint)


def test_the_gateway_monitor_scrapes_one_pod_per_service(
    committed: dict[str, list[dict]],
) -> None:
    gateway = next(
        m for m in committed["podmonitors.yaml"] if m["metadata"]["name"].endswith("gateway")
    )
    assert gateway["spec"]["podMetricsEndpoints"] == [
        {"port": "serve", "path": "/metrics", "interval": "30s"}
    ]
    templates = pod_templates(committed["rayservice-gpu.yaml"] + committed["rayjob-ingest.yaml"])
    wanted = gateway["spec"]["selector"]["matchLabels"].items()
    assert len([t for t in templates if wanted <= t["metadata"]["labels"].items()]) == 1
