"""The Grafana dashboards' and the alert rules' PromQL, read for the monitoring tests."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

REPO = Path(__file__).resolve().parents[1]
GRAFANA = REPO / "deployments" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
PROMETHEUS = REPO / "deployments" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yaml"

# What Grafana puts in a query before sending it; a test's Prometheus scrapes every
# second, so one minute holds enough samples for rate().
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1m"}


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    ref: str
    expr: str

    @property
    def name(self) -> str:
        return f"{self.dashboard} / {self.panel} ({self.ref})"

    def for_prometheus(self) -> str:
        expr = self.expr
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        return expr


def load_dashboard(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel that shows data (rows left out, panels inside collapsed rows kept)."""
    found = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def dashboard_queries() -> list[Query]:
    queries = []
    for path in DASHBOARDS:
        dashboard = load_dashboard(path)
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                queries.append(
                    Query(dashboard["title"], panel["title"], target["refId"], target["expr"])
                )
    return queries


def alert_queries() -> list[Query]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [
        Query("alerts.yaml", rule["alert"], group["name"], rule["expr"])
        for group in rules["groups"]
        for rule in group["rules"]
    ]


# --- metric names in PromQL ----------------------------------------------------------

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)
_IDENTIFIER = re.compile(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*(?![\w(])(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without", "on"}


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: identifiers that are neither functions,
    keywords, label names (matchers and by/on lists) nor inside strings."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGES.sub("", text)
    text = _LABEL_LISTS.sub("", text)
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS}


def exported_names(registry: CollectorRegistry) -> set[str]:
    """The series names a registry's metrics expose (``_total``, ``_bucket``, …), also of
    metrics with no samples yet. prometheus_client keeps them only in this attribute."""
    registered = set(registry._names_to_collectors)
    # Counters and histograms are registered under their bare names too, which are
    # never exposed (``_total``; ``_bucket``, ``_sum``, ``_count``).
    return {
        name
        for name in registered
        if not name.endswith("_created")
        and f"{name}_total" not in registered
        and f"{name}_bucket" not in registered
    }
