"""Each manifest's Serve config is what the app builder takes: ``serveConfigV2`` parses as
a Serve config, its args with the pods' environment make a valid ``EchoRayConfig``, and
``build_app`` builds the application graph without Ray."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from echoray.config import app_args_from_serve_config, config_from_args
from echoray.errors import ConfigError

# What the Secret would hold; the manifests only name its keys.
SECRET = {
    "api-keys": '{"sk-test-1": "acme"}',
    "ingest-api-key": "sk-test-1",
    "consolidate-admin-key": "sk-admin-1",
    "aws-access-key-id": "AKIDEXAMPLE",
    "aws-secret-access-key": "secret",
}


def pod_environ(container: dict[str, Any], secret: dict[str, str]) -> dict[str, str]:
    """The environment Kubernetes would give ``container`` with ``secret`` mounted."""
    environ = {}
    for var in container["env"]:
        if "value" in var:
            environ[var["name"]] = var["value"]
            continue
        ref = var["valueFrom"]["secretKeyRef"]
        if ref["key"] in secret:
            environ[var["name"]] = secret[ref["key"]]
        else:
            assert ref["optional"], f"{var['name']} needs Secret key {ref['key']}"
    return environ


def service(committed: dict[str, list[dict]], filename: str) -> dict[str, Any]:
    return next(d for d in committed[filename] if d["kind"] == "RayService")


def head_container(cluster: dict[str, Any]) -> dict[str, Any]:
    return cluster["headGroupSpec"]["template"]["spec"]["containers"][0]


def built_deployments(args: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    """Deployment name -> deployment, as Serve's controller would build them."""
    from ray.serve._private.build_app import build_app as serve_build

    from echoray.serve.app import build_app

    application = build_app(args, environ=environ)
    built = serve_build(application, name="echoray")
    assert built.ingress_deployment_name == "Gateway"
    return {d.name: d for d in built.deployments}


@pytest.mark.parametrize("filename", ["rayservice-cpu.yaml", "rayservice-gpu.yaml"])
def test_serve_config_v2_builds_the_application_without_ray(
    committed: dict[str, list[dict]], filename: str
) -> None:
    import ray

    rayservice = service(committed, filename)
    serve_config = yaml.safe_load(rayservice["spec"]["serveConfigV2"])
    ServeDeploySchema.model_validate(serve_config)  # what the Serve REST API accepts
    args = app_args_from_serve_config(serve_config)
    environ = pod_environ(head_container(rayservice["spec"]["rayClusterConfig"]), SECRET)

    config = config_from_args(args, environ)
    assert config.auth.enabled and config.auth.api_keys == {"sk-test-1": "acme"}
    assert (config.server.host, config.server.port) == ("0.0.0.0", 8000)
    assert config.cache.dir == "/models/cache"

    deployments = built_deployments(args, environ)
    assert {"Gateway", "Embedder"} <= set(deployments)
    inference = [d for name, d in deployments.items() if name.startswith("Inference-")]
    assert len(inference) == len(config.models)
    gpus = [d.ray_actor_options.get("num_gpus", 0) for d in inference]
    assert gpus == ([1.0] if filename == "rayservice-gpu.yaml" else [0])
    assert not ray.is_initialized()


def test_without_the_secret_the_builder_refuses_to_start(committed: dict[str, list]) -> None:
    serve_config = yaml.safe_load(
        service(committed, "rayservice-cpu.yaml")["spec"]["serveConfigV2"]
    )
    with pytest.raises(ConfigError, match="ECHORAY_AUTH__API_KEYS"):
        config_from_args(app_args_from_serve_config(serve_config), {})


def test_no_manifest_carries_an_api_key(all_documents: list[tuple[str, dict]]) -> None:
    for name, doc in all_documents:
        text = yaml.safe_dump(doc)
        assert "api_keys" not in text and "admin_keys" not in text, name
