"""A RayService's status as text (deploy layer): pure, so it is tested without a cluster."""

from __future__ import annotations

from typing import Any


def rayservice_ready(rayservice: dict[str, Any]) -> bool:
    """Whether the ``Ready`` condition is ``True``."""
    conditions = (rayservice.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def describe_rayservice(rayservice: dict[str, Any]) -> str:
    """Conditions, serve endpoints and application statuses, one per line."""
    metadata = rayservice.get("metadata") or {}
    status = rayservice.get("status") or {}
    lines = [
        f"RayService {metadata.get('name')} (namespace {metadata.get('namespace', '?')}): "
        f"{status.get('numServeEndpoints', 0)} serve endpoint(s)"
    ]
    conditions = status.get("conditions") or []
    if not conditions:
        lines.append("no conditions yet: the operator has not reconciled it")
    else:
        rows = [("CONDITION", "STATUS", "REASON", "SINCE", "MESSAGE")]
        rows += [
            (
                str(c.get("type", "")),
                str(c.get("status", "")),
                str(c.get("reason", "")),
                str(c.get("lastTransitionTime", "")),
                str(c.get("message", "")),
            )
            for c in conditions
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
            lines.append("  ".join([*cells, row[4]]).rstrip())
    for role in ("activeServiceStatus", "pendingServiceStatus"):
        service = status.get(role) or {}
        applications = service.get("applicationStatuses") or {}
        if service.get("rayClusterName") or applications:
            lines.append(f"{role}: RayCluster {service.get('rayClusterName', '?')}")
        for app_name, app in sorted(applications.items()):
            message = f" ({app['message']})" if app.get("message") else ""
            lines.append(f"  application {app_name}: {app.get('status', '?')}{message}")
            deployments = app.get("serveDeploymentStatuses") or {}
            for name, deployment in sorted(deployments.items()):
                note = f" ({deployment['message']})" if deployment.get("message") else ""
                lines.append(f"    {name}: {deployment.get('status', '?')}{note}")
    return "\n".join(lines)
