"""The Grafana dashboards and the alert rules name only metrics that exist, without a
Prometheus: a renamed metric fails here first. (``tests/integration/monitoring/`` runs
every query against a real Prometheus scraping a real echoray.)"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from echoray.services.metrics import GatewayMetrics
from tests.dashboards import (
    DASHBOARDS,
    GRAFANA,
    alert_queries,
    dashboard_queries,
    exported_names,
    load_dashboard,
    metric_names,
    panels,
)

EXPORTED = exported_names(GatewayMetrics().registry)
# Ray's own series the alerts use (Ray's exporter adds the ``ray_`` prefix).
RAY_METRICS = {"ray_serve_deployment_replica_healthy", "ray_serve_autoscaling_target_replicas"}


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        'sum by (le, route) (rate(echoray_x_bucket{status=~"5..", route!="a_b"}[$__rate_interval]))'
        " / on() group_left() clamp_min(max(echoray_y) offset 5m, 1) > bool 0"
    )
    assert metric_names(expr) == {"echoray_x_bucket", "echoray_y"}
    assert metric_names("time() - max(up)") == {"up"}


def test_there_are_dashboards_and_each_panel_queries() -> None:
    assert {p.name for p in DASHBOARDS} == {"echoray-serving.json", "echoray-memory.json"}
    for path in DASHBOARDS:
        dashboard = load_dashboard(path)
        shown = panels(dashboard)
        assert shown, path.name
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: panel ids repeat"
        for panel in shown:
            assert panel["targets"], f"{path.name}: {panel['title']} has no query"
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert all(t["expr"].strip() for t in panel["targets"]), panel["title"]
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["query"] == "prometheus"


@pytest.mark.parametrize("query", dashboard_queries(), ids=lambda q: q.name)
def test_every_dashboard_query_names_exported_metrics(query) -> None:
    names = metric_names(query.expr)
    assert names, "no metric found in the query"
    assert names <= EXPORTED, f"not exported by echoray: {sorted(names - EXPORTED)}"


def family(series: str) -> str:
    return series.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")


def test_every_exported_metric_is_on_a_dashboard() -> None:
    shown = set().union(*(metric_names(q.expr) for q in dashboard_queries()))
    # A histogram counts as shown through any of its series.
    missing = {family(n) for n in EXPORTED} - {family(n) for n in shown}
    assert not missing, f"exported but on no dashboard: {sorted(missing)}"


@pytest.mark.parametrize("query", alert_queries(), ids=lambda q: q.panel)
def test_every_alert_names_echoray_or_ray_metrics(query) -> None:
    names = metric_names(query.expr)
    assert names and names <= EXPORTED | RAY_METRICS, sorted(names - EXPORTED - RAY_METRICS)


def test_the_ray_metrics_alerts_use_are_ray_serves() -> None:
    spec = importlib.util.find_spec("ray.serve")
    assert spec is not None and spec.origin is not None
    source = "".join(p.read_text() for p in Path(spec.origin).parent.glob("_private/*.py"))
    for name in RAY_METRICS:
        assert f'"{name.removeprefix("ray_")}"' in source, name


def test_provisioning_points_at_the_dashboards_and_a_prometheus() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/echoray.yaml").read_text())
    (dashboards,) = provider["providers"]
    assert dashboards["type"] == "file" and dashboards["options"]["path"]
    source = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yaml").read_text())
    (prometheus,) = source["datasources"]
    assert prometheus["type"] == "prometheus" and prometheus["isDefault"]
