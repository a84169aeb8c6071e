"""One well-formed x-request-id per request: the app's own, or the one Serve's proxy sets
after ``echoray.serve.proxy`` has cleaned the client's."""

import re
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi import FastAPI, Request

from echoray.api.app import make_app
from echoray.serve.proxy import PROXY_CALLBACK, PROXY_CALLBACK_ENV, WellFormedRequestId
from echoray.services.local import local_clients, make_local_hosts
from echoray.services.wiring import make_services
from tests.helpers import fake_config

REPO = Path(__file__).resolve().parents[3]
WELL_FORMED = re.compile(r"^[0-9a-f]{32}$")


def _echo_app() -> FastAPI:
    """What a replica sees: the request's x-request-id headers, as a list."""
    app = FastAPI()

    @app.get("/")
    async def ids(request: Request) -> list[str]:
        return request.headers.getlist("x-request-id")

    return app


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ([("x-request-id", "trace-me-1")], True),
        ([("x-request-id", "bad id with spaces")], False),
        ([("x-request-id", "x" * 129)], False),
        ([("x-request-id", "a"), ("x-request-id", "b")], False),  # two ids: which one?
        ([], False),
    ],
)
async def test_the_proxy_passes_on_exactly_one_well_formed_id(given, kept) -> None:
    transport = httpx.ASGITransport(app=WellFormedRequestId(_echo_app()))
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy.test") as http:
        seen = (await http.get("/", headers=given)).json()
    assert len(seen) == 1
    assert seen == ["trace-me-1"] if kept else WELL_FORMED.match(seen[0])


async def test_behind_serve_the_app_sends_no_id_of_its_own_even_on_errors() -> None:
    config = fake_config()
    hosts = make_local_hosts(config)
    app = make_app(
        make_services(config, local_clients(config, hosts)), config, echo_request_id=False
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://echoray.test") as http:
        missing = await http.post(
            "/v1/chat/completions",
            json={"model": "nope", "messages": [{"role": "user", "content": "x"}]},
            headers={"x-request-id": "trace-me-2"},
        )
        models = await http.get("/v1/models")
    assert missing.status_code == 404
    assert "x-request-id" not in missing.headers  # Serve's proxy adds the one copy
    assert "x-request-id" not in models.headers


@pytest.mark.parametrize("manifest", ["rayservice-cpu.yaml", "rayservice-gpu.yaml"])
def test_every_ray_container_loads_the_proxy_middleware(manifest: str) -> None:
    documents = yaml.safe_load_all((REPO / "kuberay" / manifest).read_text())
    service = next(d for d in documents if d and d["kind"] == "RayService")
    cluster = service["spec"]["rayClusterConfig"]
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    for group in groups:
        for container in group["template"]["spec"]["containers"]:
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            assert env[PROXY_CALLBACK_ENV] == PROXY_CALLBACK, container["name"]
