"""The KubeRay v1.7.0 CRDs' OpenAPI schemas as strict JSON Schema validators.

The CRDs are vendored, unmodified, in ``tests/fixtures/kuberay-crds/`` (with their source,
version and the Apache-2.0 licence in ``SOURCE.md`` and ``LICENSE``), so a fresh clone runs
these tests with nothing beside it. Set ECHORAY_KUBERAY_CRDS to read them from elsewhere.

What the API server does that plain JSON Schema does not, and this adds:
- unknown fields are errors (``additionalProperties: false`` wherever the schema lists
  properties and does not say ``x-kubernetes-preserve-unknown-fields``), as kubectl's
  strict field validation makes them;
- ``x-kubernetes-list-type: map`` lists have unique keys, ``set`` lists unique items;
- ``nullable: true`` admits null.
CEL rules (``x-kubernetes-validations``) are not evaluated; the manifests set none of the
fields they guard. The operator's own rules are checked by ``echoray.deploy.rules``.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[3]
KUBERAY = REPO / "kuberay"
CRD_FILES = {
    "RayService": "ray.io_rayservices.yaml",
    "RayJob": "ray.io_rayjobs.yaml",
    "RayCluster": "ray.io_rayclusters.yaml",
}


def crd_dir() -> Path:
    vendored = REPO / "tests" / "fixtures" / "kuberay-crds"
    return Path(os.environ.get("ECHORAY_KUBERAY_CRDS", vendored))


def strict_schema(schema: Any) -> Any:
    """A copy of an OpenAPI v3 structural schema with the rules above made explicit."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties":
            out[key] = {name: strict_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = strict_schema(value)
        elif key in ("anyOf", "allOf", "oneOf"):
            out[key] = [strict_schema(sub) for sub in value]
        else:
            out[key] = value
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if schema.get("nullable") and "type" in schema:
        out["type"] = [schema["type"], "null"]
    return out


def _list_type(
    validator: Any, list_type: str, instance: Any, schema: dict[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    if not validator.is_type(instance, "array"):
        return
    seen: set[str] = set()
    keys = schema.get("x-kubernetes-list-map-keys") or []
    for item in instance:
        if list_type == "map" and isinstance(item, dict):
            key = json.dumps([item.get(k) for k in keys])
        elif list_type == "set":
            key = json.dumps(item, sort_keys=True)
        else:
            continue
        if key in seen:
            yield jsonschema.ValidationError(f"duplicate list entry {key} (keys {keys})")
        seen.add(key)


KubernetesValidator = jsonschema.validators.extend(
    jsonschema.Draft7Validator, {"x-kubernetes-list-type": _list_type}
)


@functools.cache
def validator_for(kind: str, version: str = "v1") -> Any:
    """A validator for ``kind`` at ``version`` from its CRD file.

    Raises:
        FileNotFoundError: the CRD folder is not where it should be.
    """
    path = crd_dir() / CRD_FILES[kind]
    crd = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    served = {v["name"]: v for v in crd["spec"]["versions"]}
    schema = strict_schema(served[version]["schema"]["openAPIV3Schema"])
    KubernetesValidator.check_schema(schema)
    return KubernetesValidator(schema)


def schema_errors(document: dict[str, Any]) -> list[str]:
    """Every schema violation in a ray.io document, as ``path: message`` lines."""
    group, _, version = document["apiVersion"].partition("/")
    assert group == "ray.io", document["apiVersion"]
    validator = validator_for(document["kind"], version)
    return [
        f"{'.'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: str(list(e.path)))
    ]
