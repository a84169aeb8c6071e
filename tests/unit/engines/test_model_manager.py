"""Model specs -> Serve options, routing names, and health: plain functions, no cluster."""

import pytest

from echoray.config import DeploymentOptionsConfig, ModelSpec
from echoray.engines.fake import FakeEngine
from echoray.engines.host import EngineHost
from echoray.errors import EngineError
from echoray.serve.app import deployment_options
from echoray.serve.names import inference_deployment_name


def test_fixed_replicas_and_resources() -> None:
    options = deployment_options(DeploymentOptionsConfig(num_replicas=2, num_cpus=1, num_gpus=0))
    assert options["num_replicas"] == 2
    assert "autoscaling_config" not in options
    assert options["ray_actor_options"] == {"num_cpus": 1, "num_gpus": 0}


def test_autoscaling_is_always_explicit() -> None:
    config = DeploymentOptionsConfig.model_validate(
        {
            "autoscaling": {"min_replicas": 0, "max_replicas": 4, "target_ongoing_requests": 8},
            "num_gpus": 1,
            "accelerator_type": "H100",
            "max_ongoing_requests": 64,
        }
    )
    options = deployment_options(config)
    assert options["autoscaling_config"] == {
        "min_replicas": 0,
        "max_replicas": 4,
        "target_ongoing_requests": 8,
    }
    assert "num_replicas" not in options
    assert options["ray_actor_options"]["accelerator_type"] == "H100"
    assert options["max_ongoing_requests"] == 64


def test_every_deployment_sheds_a_full_queue_with_retry_after() -> None:
    options = deployment_options(DeploymentOptionsConfig(max_queued_requests=5, retry_after_s=2))
    assert options["max_queued_requests"] == 5
    assert options["backpressure_config"].status_code == 503
    assert options["backpressure_config"].retry_after_s == 2
    assert ModelSpec().deployment.max_queued_requests == 8  # the engine's queue is the real one


def test_custom_resources_pin_replicas_to_nodes() -> None:
    options = deployment_options(DeploymentOptionsConfig(resources={"gateway_node": 0.5}))
    assert options["ray_actor_options"]["resources"] == {"gateway_node": 0.5}
    assert "resources" not in deployment_options(DeploymentOptionsConfig())["ray_actor_options"]
    with pytest.raises(ValueError, match="greater than 0"):
        DeploymentOptionsConfig(resources={"gateway_node": 0})


def test_autoscaling_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="min_replicas"):
        DeploymentOptionsConfig.model_validate(
            {"autoscaling": {"min_replicas": 3, "max_replicas": 1}}
        )


def test_deployment_names_are_serve_safe_and_distinct() -> None:
    assert inference_deployment_name("plain-name_1") == "Inference-plain-name_1"
    assert inference_deployment_name("org/model:v1").startswith("Inference-org_model_v1-")
    assert inference_deployment_name("a.b") != inference_deployment_name("a_b")


async def test_health_check_fails_when_the_engine_is_broken() -> None:
    engine = FakeEngine(ModelSpec.model_validate({"name": "f", "engine": {"kind": "fake"}}))
    host = EngineHost(engine)
    await host.wait_ready()
    await host.check_health()
    engine.broken = True
    with pytest.raises(EngineError, match="broken"):
        await host.check_health()


async def test_health_check_fails_when_loading_failed() -> None:
    class FailingEngine(FakeEngine):
        async def start(self) -> None:
            raise RuntimeError("weights corrupt")

    host = EngineHost(
        FailingEngine(ModelSpec.model_validate({"name": "f", "engine": {"kind": "fake"}}))
    )
    with pytest.raises(RuntimeError):
        await host.wait_ready()
    assert not await host.is_ready()
    with pytest.raises(EngineError, match="weights corrupt"):
        await host.check_health()
