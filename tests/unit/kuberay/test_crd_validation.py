"""Every committed RayService and RayJob validates against the KubeRay v1.7.0 CRD schemas
and the operator's extra rules; the validators themselves catch what they should."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from echoray.deploy.rules import operator_problems
from tests.unit.kuberay.crds import schema_errors

pytestmark = pytest.mark.usefixtures("kuberay_crds")


def ray_documents(all_documents: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    return [(name, doc) for name, doc in all_documents if doc["apiVersion"].startswith("ray.io")]


def test_ray_objects_use_ray_io_v1_only(all_documents: list[tuple[str, dict]]) -> None:
    kinds = {(doc["apiVersion"], doc["kind"]) for _, doc in ray_documents(all_documents)}
    assert kinds == {("ray.io/v1", "RayService"), ("ray.io/v1", "RayJob")}


def test_every_ray_object_validates_against_its_crd(
    all_documents: list[tuple[str, dict]],
) -> None:
    checked = 0
    for name, doc in ray_documents(all_documents):
        assert schema_errors(doc) == [], f"{name}: {doc['kind']} {doc['metadata']['name']}"
        checked += 1
    assert checked == 4  # two RayServices, two RayJobs


def test_every_ray_object_keeps_the_operator_rules(
    all_documents: list[tuple[str, dict]],
) -> None:
    for name, doc in ray_documents(all_documents):
        assert operator_problems(doc) == [], name


def rayservice(committed: dict[str, list[dict]], filename: str) -> dict[str, Any]:
    return copy.deepcopy(next(d for d in committed[filename] if d["kind"] == "RayService"))


def test_the_schema_check_rejects_unknown_fields_wrong_types_and_duplicates(
    committed: dict[str, list[dict]],
) -> None:
    doc = rayservice(committed, "rayservice-cpu.yaml")
    cluster = doc["spec"]["rayClusterConfig"]
    cluster["enableInTreeAutoScaling"] = True  # misspelt
    cluster["workerGroupSpecs"][0]["minReplicas"] = "1"  # a string
    container = cluster["headGroupSpec"]["template"]["spec"]["containers"][0]
    container["env"].append(dict(container["env"][0]))  # the same variable twice
    errors = "\n".join(schema_errors(doc))
    assert "enableInTreeAutoScaling" in errors
    assert "minReplicas: '1' is not of type 'integer'" in errors
    assert "duplicate list entry" in errors


def test_the_operator_rules_catch_what_the_schema_cannot(committed: dict[str, list[dict]]) -> None:
    doc = rayservice(committed, "rayservice-cpu.yaml")
    doc["metadata"]["name"] = "e" * 48
    doc["spec"]["rayClusterConfig"]["headGroupSpec"]["resources"] = {"CPU": "1"}
    doc["spec"]["rayClusterConfig"]["headGroupSpec"]["headService"] = {"metadata": {"name": "mine"}}
    doc["spec"]["upgradeStrategy"] = {"type": "Rolling"}
    assert schema_errors(doc) == []  # all of it passes the schema
    problems = "\n".join(operator_problems(doc))
    assert "longer than 47 characters" in problems
    assert "both rayStartParams and resources" in problems
    assert "headService.metadata.name must not be set" in problems
    assert "upgradeStrategy.type 'Rolling'" in problems

    doc["metadata"]["name"] = "1-echoray"
    assert "not a DNS-1035 label" in "\n".join(operator_problems(doc))


def test_a_rayjob_ttl_needs_shutdown_after_the_job(committed: dict[str, list[dict]]) -> None:
    job = copy.deepcopy(next(d for d in committed["rayjob-ingest.yaml"] if d["kind"] == "RayJob"))
    job["spec"]["shutdownAfterJobFinishes"] = False
    assert schema_errors(job) == []
    assert any("needs shutdownAfterJobFinishes" in p for p in operator_problems(job))
