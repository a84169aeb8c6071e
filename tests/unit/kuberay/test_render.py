"""Rendering is pure: an ``EchoRayConfig`` and a ``DeployConfig`` in, manifests out."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from echoray.config import EchoRayConfig
from echoray.deploy import images
from echoray.deploy.render import make_documents, render_command
from echoray.deploy.serve_config import load_cluster_config
from echoray.deploy.settings import DeployConfig
from echoray.errors import ConfigError
from tests.unit.kuberay.crds import REPO

GPU_MODEL = {
    "name": "qwen",
    "source": "s3://models/qwen/",
    "engine": {"kind": "vllm"},
    "deployment": {"num_gpus": 1, "autoscaling": {"min_replicas": 1, "max_replicas": 2}},
}


def config(**args: Any) -> EchoRayConfig:
    return EchoRayConfig.model_validate(args)


def rayservice(cfg: EchoRayConfig, deploy: DeployConfig | None = None) -> dict[str, Any]:
    docs = make_documents("rayservice", cfg, deploy or DeployConfig())
    return next(d for d in docs if d["kind"] == "RayService")


def args_of(rs: dict[str, Any]) -> dict[str, Any]:
    return yaml.safe_load(rs["spec"]["serveConfigV2"])["applications"][0]["args"]


def groups(rs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    cluster = rs["spec"]["rayClusterConfig"]
    return {"head": cluster["headGroupSpec"]} | {
        g["groupName"]: g for g in cluster["workerGroupSpecs"]
    }


def container(group: dict[str, Any]) -> dict[str, Any]:
    return group["template"]["spec"]["containers"][0]


def test_the_cpu_layout() -> None:
    rs = rayservice(config())
    cluster = rs["spec"]["rayClusterConfig"]
    assert cluster["enableInTreeAutoscaling"] is True
    assert cluster["rayVersion"] == images.RAY_VERSION
    layout = groups(rs)
    assert set(layout) == {"head", "cpu"}
    assert layout["head"]["rayStartParams"]["num-cpus"] == "0"
    assert rs["spec"]["excludeHeadPodFromServeSvc"] is True
    worker = container(layout["cpu"])
    assert worker["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "serve"}
    assert "nvidia.com/gpu" not in worker["resources"]["limits"]
    assert {c["image"] for c in map(container, layout.values())} == {"echoray:0.1.0"}


def test_the_gpu_group_scales_from_zero_on_gpus() -> None:
    rs = rayservice(config(models=[GPU_MODEL]), DeployConfig(gpu=True, image="reg/echoray:1"))
    gpu = groups(rs)["gpu"]
    assert (gpu["minReplicas"], gpu["replicas"], gpu["maxReplicas"]) == (0, 0, 2)
    worker = container(gpu)
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert worker["image"] == "reg/echoray:1-gpu"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in gpu[
        "template"
    ]["spec"]["tolerations"]
    assert container(groups(rs)["cpu"])["image"] == "reg/echoray:1"


def test_a_model_sharded_over_two_gpus_gets_workers_with_two() -> None:
    model = {**GPU_MODEL, "engine": {"kind": "vllm", "tensor_parallel_size": 2}}
    model["deployment"] = {"num_gpus": 2}
    rs = rayservice(config(models=[model]), DeployConfig(gpu=True))
    assert container(groups(rs)["gpu"])["resources"]["limits"]["nvidia.com/gpu"] == "2"


def test_gpu_models_and_the_gpu_flag_must_agree() -> None:
    with pytest.raises(ConfigError, match="render with --gpu"):
        rayservice(config(models=[GPU_MODEL]))
    with pytest.raises(ConfigError, match="no model asks for a GPU"):
        rayservice(config(), DeployConfig(gpu=True))
    no_gpus = {**GPU_MODEL, "deployment": {"num_gpus": 0}}
    with pytest.raises(ConfigError, match="num_gpus"):
        rayservice(config(models=[no_gpus]), DeployConfig(gpu=True))


def test_relative_model_sources_are_refused() -> None:
    with pytest.raises(ConfigError, match="relative path"):
        rayservice(config(models=[{"name": "m", "source": "models/m.gguf"}]))


def volumes_and_env(rs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], set[str]]:
    spec = groups(rs)["cpu"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    env = {e["name"] for e in spec["containers"][0]["env"]}
    return volumes, mounts, env


def test_pvc_storage_mounts_the_data_claim() -> None:
    docs = make_documents("rayservice", config(), DeployConfig(storage_class="nfs"))
    claims = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PersistentVolumeClaim"}
    assert set(claims) == {"echoray-model-cache", "echoray-data"}
    assert claims["echoray-data"]["spec"]["storageClassName"] == "nfs"
    assert claims["echoray-data"]["spec"]["accessModes"] == ["ReadWriteMany"]
    rs = docs[-1]
    volumes, mounts, env = volumes_and_env(rs)
    assert mounts["data"] == "/data" and mounts["model-cache"] == "/models"
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "echoray-data"
    assert args_of(rs)["storage"] == {"uri": "/data"}
    assert args_of(rs)["cache"] == {"dir": "/models/cache"}
    assert "AWS_ACCESS_KEY_ID" not in env


def test_object_storage_takes_credentials_from_the_secret() -> None:
    docs = make_documents("rayservice", config(), DeployConfig(storage="s3://bucket/echoray"))
    assert [d["metadata"]["name"] for d in docs[:-1]] == ["echoray-model-cache"]
    volumes, _, env = volumes_and_env(docs[-1])
    assert "data" not in volumes
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ECHORAY_AUTH__API_KEYS"} <= env
    assert args_of(docs[-1])["storage"] == {"uri": "s3://bucket/echoray"}

    rs = rayservice(config(), DeployConfig(storage="gs://bucket/echoray"))
    volumes, _, env = volumes_and_env(rs)
    assert volumes["gcp-credentials"]["secret"]["secretName"] == "echoray-secrets"
    assert "GOOGLE_APPLICATION_CREDENTIALS" in env and "AWS_ACCESS_KEY_ID" not in env


def test_a_remote_storage_uri_in_the_config_is_kept() -> None:
    rs = rayservice(config(storage={"uri": "s3://from-config/"}))
    assert args_of(rs)["storage"] == {"uri": "s3://from-config/"}


def test_auth_is_on_and_keys_stay_out_of_the_manifest() -> None:
    cfg = config(auth={"enabled": False, "api_keys": {"sk-secret": "acme"}, "admin_keys": ["a"]})
    rs = rayservice(cfg)
    assert args_of(rs)["auth"] == {"enabled": True}
    assert "sk-secret" not in yaml.safe_dump(rs)
    env = {e["name"]: e for e in container(groups(rs)["head"])["env"]}
    ref = env["ECHORAY_AUTH__API_KEYS"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "echoray-secrets", "key": "api-keys", "optional": False}


def test_the_machines_echoray_variables_never_reach_a_manifest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ECHORAY_STORAGE__URI", "s3://leaked/")
    monkeypatch.setenv("ECHORAY_AUTH__API_KEYS", '{"sk-leaked": "t"}')
    cfg = load_cluster_config(REPO / "deployments" / "local.yaml")
    text = yaml.safe_dump(rayservice(cfg))
    assert "leaked" not in text


def test_name_and_namespace_flow_into_every_object() -> None:
    deploy = DeployConfig(name="chat-prod", namespace="llm")
    for kind in ("rayservice", "rayjob-ingest", "podmonitors", "secret"):
        for doc in make_documents(kind, config(), deploy):  # type: ignore[arg-type]
            assert doc["metadata"]["namespace"] == "llm"
            assert doc["metadata"]["name"].startswith("chat-prod")
            assert doc["metadata"]["labels"]["app.kubernetes.io/instance"] == "chat-prod"


def test_names_the_operator_would_reject_are_refused_early() -> None:
    with pytest.raises(ValidationError):
        DeployConfig(name="x" * 48)
    with pytest.raises(ValidationError):
        DeployConfig(name="Echo_Ray")
    # 47 characters fit a RayService but not "<name>-consolidate" as a RayJob.
    with pytest.raises(ConfigError, match="longer than 47"):
        make_documents("rayjob-consolidate", config(), DeployConfig(name="e" * 40))


def test_jobs_shut_their_cluster_down_and_have_no_gpus() -> None:
    cfg = config(models=[GPU_MODEL])
    [job] = make_documents("rayjob-consolidate", cfg, DeployConfig(gpu=True))
    assert job["spec"]["shutdownAfterJobFinishes"] is True
    assert job["spec"]["entrypoint"].startswith("python -m echoray.jobs.consolidate ")
    cluster = job["spec"]["rayClusterSpec"]
    assert [g["groupName"] for g in cluster["workerGroupSpecs"]] == ["cpu"]
    assert cluster["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    assert "readinessProbe" not in container(cluster["workerGroupSpecs"][0])


def test_render_command_is_canonical() -> None:
    deploy = DeployConfig(gpu=True, namespace="llm", max_gpu_workers=4)
    assert render_command("c.yaml", "rayservice", deploy) == (
        "echoray deploy render --config c.yaml --namespace llm --gpu --max-gpu-workers 4"
    )
    assert render_command("c.yaml", "podmonitors", DeployConfig()) == (
        "echoray deploy render --config c.yaml --kind podmonitors"
    )


def test_gpu_image_names() -> None:
    assert images.gpu_image_for("ghcr.io/acme/echoray:0.1.0") == "ghcr.io/acme/echoray:0.1.0-gpu"
    assert images.gpu_image_for("localhost:5000/echoray") == "localhost:5000/echoray:gpu"
    with pytest.raises(ValidationError, match="digest"):
        DeployConfig(gpu=True, image="echoray@sha256:" + "0" * 64)
