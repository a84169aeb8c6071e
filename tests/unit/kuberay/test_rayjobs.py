"""The RayJobs run the jobs of ``echoray.jobs`` as those are: each entrypoint is a command
line the job's own parser accepts, aimed at the RayService's Serve service, with its API
key from the Secret (which the service accepts for that job), and for ingest a source on
a volume the job's pods mount. The jobs run against a mock HTTP transport, so neither Ray
nor a cluster is needed."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import io
import json
import shlex
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import ValidationError

from echoray.api.auth import Authenticator
from echoray.cli import main
from echoray.client import AsyncEchoRay
from echoray.config import EchoRayConfig, app_args_from_serve_config, config_from_args
from echoray.deploy.rayjob import JOBS, SECRET_KEYS, Job
from echoray.deploy.render import make_documents
from echoray.deploy.settings import DEFAULT_INGEST_SOURCE, DeployConfig
from echoray.errors import PermissionDeniedError
from tests.unit.kuberay.crds import REPO
from tests.unit.kuberay.test_serve_config import SECRET, pod_environ

FILES: dict[Job, str] = {"ingest": "rayjob-ingest.yaml", "consolidate": "rayjob-consolidate.yaml"}
# The service's Secret as the jobs need it: the ingest key is a tenant's, the other an admin's.
JOB_SECRET = {**SECRET, "admin-keys": json.dumps([SECRET["consolidate-admin-key"]])}


def rayjob_of(committed: dict[str, list[dict]], job: Job) -> dict[str, Any]:
    documents = committed[FILES[job]]
    assert [d["kind"] for d in documents] == ["RayJob"], "a job needs nothing beside its RayJob"
    return documents[0]


def containers(rayjob: dict[str, Any]) -> list[dict[str, Any]]:
    cluster = rayjob["spec"]["rayClusterSpec"]
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    return [c for group in groups for c in group["template"]["spec"]["containers"]]


def driver_container(rayjob: dict[str, Any]) -> dict[str, Any]:
    """Where the job runs: ``entrypointNumCpus`` puts the driver on a CPU worker, since the
    head has no CPUs for Ray."""
    assert rayjob["spec"]["entrypointNumCpus"] >= 1
    assert rayjob["spec"]["rayClusterSpec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    cpu = next(g for g in rayjob["spec"]["rayClusterSpec"]["workerGroupSpecs"])
    return cpu["template"]["spec"]["containers"][0]


def parse(job: Job, rayjob: dict[str, Any], environ: dict[str, str]) -> argparse.Namespace:
    """The entrypoint through the job module's own parser, as the driver would run it."""
    argv = shlex.split(rayjob["spec"]["entrypoint"])
    assert argv[:3] == ["python", "-m", f"echoray.jobs.{job}"], argv
    assert "--api-key" not in argv, "the key comes from the Secret, never the manifest"
    module = importlib.import_module(f"echoray.jobs.{job}")
    try:
        return module.build_parser(environ).parse_args(argv[3:])
    except SystemExit as exit:
        pytest.fail(f"python -m echoray.jobs.{job} refuses {argv[3:]} (exit {exit.code})")


def serve_url(committed: dict[str, list[dict]]) -> str:
    """The URL of the RayService's Serve service: KubeRay's ``<name>-serve-svc`` on the
    port of the Serve config's HTTP proxy."""
    service = next(d for d in committed["rayservice-cpu.yaml"] if d["kind"] == "RayService")
    port = yaml.safe_load(service["spec"]["serveConfigV2"])["http_options"]["port"]
    return f"http://{service['metadata']['name']}-serve-svc:{port}"


def service_authenticator(committed: dict[str, list[dict]]) -> Authenticator:
    """Auth as the service's pods configure it from ``JOB_SECRET``."""
    service = next(d for d in committed["rayservice-cpu.yaml"] if d["kind"] == "RayService")
    args = app_args_from_serve_config(yaml.safe_load(service["spec"]["serveConfigV2"]))
    head = service["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]
    config = config_from_args(args, pod_environ(head["containers"][0], JOB_SECRET))
    assert config.auth.enabled
    return Authenticator(config.auth)


@pytest.mark.parametrize("job", JOBS)
def test_each_entrypoint_is_accepted_by_its_job_and_targets_the_serve_service(
    committed: dict[str, list[dict]], job: Job
) -> None:
    rayjob = rayjob_of(committed, job)
    args = parse(job, rayjob, pod_environ(driver_container(rayjob), JOB_SECRET))
    assert args.url == serve_url(committed) == "http://echoray-serve-svc:8000"
    assert args.api_key == JOB_SECRET[SECRET_KEYS[job]]
    for container in containers(rayjob):  # wherever Ray puts the driver
        ref = next(e for e in container["env"] if e["name"] == "ECHORAY_API_KEY")
        assert ref["valueFrom"]["secretKeyRef"] == {
            "name": "echoray-secrets",
            "key": SECRET_KEYS[job],
            "optional": False,
        }


@pytest.mark.parametrize("job", JOBS)
def test_the_old_config_entrypoint_is_refused_by_the_jobs(job: Job) -> None:
    module = importlib.import_module(f"echoray.jobs.{job}")
    with pytest.raises(SystemExit):
        module.build_parser({}).parse_args(["--config", "/etc/echoray/config.yaml"])


def test_the_service_accepts_each_jobs_key(committed: dict[str, list[dict]]) -> None:
    auth = service_authenticator(committed)
    assert auth.tenant_for(f"Bearer {JOB_SECRET['ingest-api-key']}") == "acme"
    auth.require_admin(f"Bearer {JOB_SECRET['consolidate-admin-key']}")
    with pytest.raises(PermissionDeniedError):  # a tenant's key cannot consolidate
        auth.require_admin(f"Bearer {JOB_SECRET['ingest-api-key']}")


def test_ingest_reads_its_source_from_the_data_claim(committed: dict[str, list[dict]]) -> None:
    rayjob = rayjob_of(committed, "ingest")
    worker = driver_container(rayjob)
    args = parse("ingest", rayjob, pod_environ(worker, JOB_SECRET))
    assert args.source == Path(DEFAULT_INGEST_SOURCE) == Path("/data/ingest/memories.jsonl")
    assert (args.user, args.user_column, args.text_column) == (None, "user", "text")
    mount = next(m for m in worker["volumeMounts"] if args.source.is_relative_to(m["mountPath"]))
    volumes = rayjob["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]
    volume = next(v for v in volumes["volumes"] if v["name"] == mount["name"])
    # The service's data claim: files copied into a service pod's /data/ingest are seen here.
    claims = [d["metadata"]["name"] for d in committed["rayservice-cpu.yaml"]]
    assert volume["persistentVolumeClaim"]["claimName"] == "echoray-data"
    assert "echoray-data" in claims


class Recorder:
    """A mock echoray HTTP API that records what it was sent."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/v1/memories/batch":
            body = json.loads(request.content)
            return httpx.Response(200, json={"inserted": len(body["memories"]), "existing": 0})
        run = {"run_id": "r1", "state": "running", "tenant": None, "shards": [], "counts": {}}
        if request.url.path == "/v1/admin/consolidate":
            return httpx.Response(200, json=run)
        if request.url.path == "/v1/admin/consolidation":  # the job polls until it is done
            return httpx.Response(200, json={"running": [], "history": [{**run, "state": "done"}]})
        return httpx.Response(404, json={"error": {"message": "not here"}})


def run_job(job: Job, args: argparse.Namespace, recorder: Recorder) -> dict[str, Any]:
    module = importlib.import_module(f"echoray.jobs.{job}")

    async def go() -> dict[str, Any]:
        transport = httpx.MockTransport(recorder)
        async with AsyncEchoRay(args.url, args.api_key, transport=transport) as client:
            result: dict[str, Any] = await getattr(module, job)(args, client, stream=io.StringIO())
            return result

    return asyncio.run(go())


def test_the_ingest_job_as_rendered_loads_a_file_in_the_documented_shape(
    committed: dict[str, list[dict]], tmp_path: Path
) -> None:
    rayjob = rayjob_of(committed, "ingest")
    source = tmp_path / "memories.jsonl"
    rows = [{"text": "likes tea", "user": "ann"}, {"text": "plays go", "user": "bo"}]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    here = dict(rayjob, spec={**rayjob["spec"]})
    here["spec"]["entrypoint"] = rayjob["spec"]["entrypoint"].replace(
        DEFAULT_INGEST_SOURCE, str(source)
    )
    args = parse("ingest", here, pod_environ(driver_container(rayjob), JOB_SECRET))
    recorder = Recorder()
    summary = run_job("ingest", args, recorder)
    assert (summary["read"], summary["inserted"], summary["rejected"]) == (2, 2, 0)
    sent = {json.loads(r.content)["user"] for r in recorder.requests}
    assert sent == {"ann", "bo"}
    for request in recorder.requests:
        assert (request.url.host, request.url.port) == ("echoray-serve-svc", 8000)
        assert request.headers["authorization"] == f"Bearer {JOB_SECRET['ingest-api-key']}"


def test_the_consolidate_job_as_rendered_asks_the_service_with_the_admin_key(
    committed: dict[str, list[dict]],
) -> None:
    rayjob = rayjob_of(committed, "consolidate")
    args = parse("consolidate", rayjob, pod_environ(driver_container(rayjob), JOB_SECRET))
    args.progress_every = 0.01
    recorder = Recorder()
    run = run_job("consolidate", args, recorder)
    assert run["state"] == "done"
    start, poll = recorder.requests
    assert str(start.url) == "http://echoray-serve-svc:8000/v1/admin/consolidate"
    assert str(poll.url) == "http://echoray-serve-svc:8000/v1/admin/consolidation"
    for request in (start, poll):
        assert request.headers["authorization"] == f"Bearer {JOB_SECRET['consolidate-admin-key']}"


def test_render_options_choose_the_source_the_user_and_the_names() -> None:
    deploy = DeployConfig(
        name="chat", namespace="llm", ingest_source="/data/notes", ingest_user="alice"
    )
    [rayjob] = make_documents("rayjob-ingest", EchoRayConfig(), deploy)
    environ = pod_environ(driver_container(rayjob), JOB_SECRET)
    args = parse("ingest", rayjob, environ)
    assert (args.source, args.user, args.user_column) == (Path("/data/notes"), "alice", None)
    assert args.url == "http://chat-serve-svc:8000"
    ref = next(e for e in driver_container(rayjob)["env"] if e["name"] == "ECHORAY_API_KEY")
    assert ref["valueFrom"]["secretKeyRef"]["name"] == "chat-secrets"
    [consolidate] = make_documents("rayjob-consolidate", EchoRayConfig(), deploy)
    assert parse("consolidate", consolidate, environ).url == "http://chat-serve-svc:8000"


def test_the_cli_renders_the_ingest_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    target = tmp_path / "ingest.yaml"
    argv = ["deploy", "render", "--kind", "rayjob-ingest", "--ingest-source", "/data/in.parquet"]
    assert main([*argv, "--ingest-user", "bob", "-o", str(target)]) == 0
    text = target.read_text()
    assert text.startswith(
        "# Generated by: echoray deploy render --config deployments/local.yaml --kind "
        "rayjob-ingest --ingest-source /data/in.parquet --ingest-user bob\n"
    )
    [rayjob] = [d for d in yaml.safe_load_all(text) if d]
    args = parse("ingest", rayjob, {})
    assert (args.source, args.user) == (Path("/data/in.parquet"), "bob")
    capsys.readouterr()
    assert main(["deploy", "render", "--kind", "rayjob-ingest", "--ingest-source", "x.csv"]) == 2
    assert "--ingest-source" in capsys.readouterr().err


def test_ingest_options_the_job_would_refuse_are_refused_at_render() -> None:
    for bad in ("data/memories.jsonl", "/data/my notes.txt", ""):
        with pytest.raises(ValidationError):
            DeployConfig(ingest_source=bad)
    for user in ("two words", "x" * 129, "-dash"):
        with pytest.raises(ValidationError):
            DeployConfig(ingest_user=user)
