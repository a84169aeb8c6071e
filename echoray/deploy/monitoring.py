"""PodMonitors for the Prometheus operator (deploy layer).

``<name>-ray`` scrapes Ray's metrics ports on every pod of the install (service and job
clusters): ``metrics`` (8080) on all nodes, ``as-metrics`` and ``dash-metrics`` on the
head. ``<name>-gateway`` scrapes echoray's ``/metrics`` through the head's Serve proxy:
one target, so the gateway's counters are not counted once per node. Each gateway replica
keeps its own registry; with more than one, a scrape sees the replica it reached.
"""

from __future__ import annotations

from typing import Any

from echoray.deploy.resources import object_meta
from echoray.deploy.settings import DeployConfig

SCRAPE_INTERVAL = "30s"


def _endpoint(port: str, path: str = "/metrics") -> dict[str, str]:
    return {"port": port, "path": path, "interval": SCRAPE_INTERVAL}


def make_pod_monitors(deploy: DeployConfig) -> list[dict[str, Any]]:
    """The two PodMonitors described in the module docstring."""
    install = {"app.kubernetes.io/name": "echoray", "app.kubernetes.io/instance": deploy.name}
    ray = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": object_meta(deploy, f"{deploy.name}-ray", "monitoring"),
        "spec": {
            "selector": {"matchLabels": install},
            "podMetricsEndpoints": [
                _endpoint("metrics"),
                _endpoint("as-metrics"),
                _endpoint("dash-metrics"),
            ],
        },
    }
    head = {
        **install,
        "app.kubernetes.io/component": "head",
        "echoray.io/workload": "service",
    }
    gateway = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": object_meta(deploy, f"{deploy.name}-gateway", "monitoring"),
        "spec": {
            "selector": {"matchLabels": head},
            "podMetricsEndpoints": [_endpoint("serve")],
        },
    }
    return [ray, gateway]
