from pathlib import Path

import pytest

from echoray.config import (
    DEFAULT_MODEL_NAME,
    EchoRayConfig,
    apply_env_overrides,
    config_from_args,
    load_config,
)
from echoray.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def test_default_config_serves_the_embedded_model() -> None:
    config = EchoRayConfig()
    assert [m.name for m in config.models] == [DEFAULT_MODEL_NAME]
    assert config.models[0].source == f"builtin:{DEFAULT_MODEL_NAME}"
    assert config.models[0].engine.kind == "torch"
    assert config.storage.uri == "./data"
    assert config.auth.enabled is False


def test_local_yaml_is_a_serve_config_with_our_args() -> None:
    config = load_config(REPO / "deployments" / "local.yaml", environ={})
    assert config.models[0].name == DEFAULT_MODEL_NAME
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8000)


def test_serve_request_timeout_is_the_limits_one(tmp_path: Path) -> None:
    text = (REPO / "deployments" / "local.yaml").read_text()
    assert "request_timeout_s: 300" in text
    changed = tmp_path / "serve.yaml"
    changed.write_text(text.replace("request_timeout_s: 300", "request_timeout_s: 42"))
    assert load_config(changed, environ={}).limits.request_timeout_s == 42


def test_env_overrides_nested_values_and_list_items() -> None:
    environ = {
        "ECHORAY_SERVER__PORT": "8123",
        "ECHORAY_MODELS__0__MAX_MODEL_LEN": "1024",
        "ECHORAY_AUTH__ENABLED": "true",
        "ECHORAY_AUTH__API_KEYS": '{"k1": "acme"}',
        "ECHORAY_STORAGE__URI": "s3://bucket/echoray",
        "UNRELATED": "x",
    }
    config = load_config(REPO / "deployments" / "local.yaml", environ=environ)
    assert config.server.port == 8123
    assert config.models[0].max_model_len == 1024
    assert config.auth.enabled and config.auth.api_keys == {"k1": "acme"}
    assert config.storage.uri == "s3://bucket/echoray"


def test_env_override_of_default_model_list() -> None:
    config = config_from_args({}, {"ECHORAY_MODELS__0__DTYPE": "bfloat16"})
    assert config.models[0].dtype == "bfloat16"
    assert config.models[0].name == DEFAULT_MODEL_NAME


def test_the_clients_settings_do_not_break_the_server_config() -> None:
    # The jobs section of the README has users export these; `echoray serve` read them as
    # config paths (`api_key`, `url`) and refused to start.
    environ = {
        "ECHORAY_API_KEY": "sk-acme-1",
        "ECHORAY_URL": "http://127.0.0.1:8000",
        "ECHORAY_SERVER__PORT": "8124",
    }
    config = config_from_args({}, environ)
    assert config.server.port == 8124
    assert config == config_from_args({}, {"ECHORAY_SERVER__PORT": "8124"})


def test_a_misspelt_section_is_an_error_naming_the_sections() -> None:
    with pytest.raises(ConfigError, match=r"ECHORAY_SEVER__PORT.*no section 'sever'.*server"):
        config_from_args({}, {"ECHORAY_SEVER__PORT": "8001"})


def test_apply_env_overrides_does_not_mutate_input() -> None:
    data = {"server": {"port": 1}}
    apply_env_overrides(data, {"ECHORAY_SERVER__PORT": "2"})
    assert data == {"server": {"port": 1}}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ({"serverr": {}}, "serverr"),
        ({"server": {"port": 0}}, "server.port"),
        ({"models": []}, "models"),
        ({"models": [{"name": "a"}, {"name": "a"}]}, "unique"),
        ({"models": [{"engine": {"kind": "tpu"}}]}, "engine"),
        ({"auth": {"enabled": True}}, "api_keys"),
        ({"server": {"gateway": {"max_queued_requests": 0}}}, "max_queued_requests"),
    ],
)
def test_invalid_config_says_what_to_fix(args: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        config_from_args(args)


def test_missing_file_and_bad_env_index() -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config("/nonexistent/echoray.yaml", {})
    with pytest.raises(ConfigError, match="ECHORAY_MODELS__5__NAME"):
        config_from_args({}, {"ECHORAY_MODELS__5__NAME": "x"})


def test_serve_config_without_our_app_is_rejected(tmp_path: Path) -> None:
    file = tmp_path / "c.yaml"
    file.write_text("applications:\n  - name: other\n    import_path: x:y\n")
    with pytest.raises(ConfigError, match="import_path"):
        load_config(file, {})


def test_absolute_paths_keep_uris_and_builtins(tmp_path: Path) -> None:
    config = config_from_args({"storage": {"uri": "s3://b/p"}, "cache": {"dir": "rel/cache"}})
    resolved = config.with_absolute_paths(tmp_path)
    assert resolved.storage.uri == "s3://b/p"
    assert resolved.cache.dir == str(tmp_path / "rel" / "cache")
    assert resolved.models[0].source == f"builtin:{DEFAULT_MODEL_NAME}"


def test_two_model_example_builds_two_inference_deployments() -> None:
    from echoray.serve.app import build_app_from_config
    from echoray.serve.names import inference_deployment_name

    config = load_config(REPO / "deployments" / "two-models.yaml", environ={})
    assert [m.name for m in config.models] == ["smollm2-135m-instruct", "smollm2-short-context"]
    app = build_app_from_config(config)
    gateway = app._bound_deployment
    models = gateway.init_args[1]
    assert {a._bound_deployment.name for a in models.values()} == {
        inference_deployment_name(m.name) for m in config.models
    }
    assert models["smollm2-short-context"]._bound_deployment._deployment_config.autoscaling_config


def test_serve_refuses_a_deployment_that_would_queue_for_the_engine() -> None:
    from echoray.serve.app import build_app

    # Serve would hold what the engine should queue or refuse: no 503 would ever fire.
    args = {"models": [{"engine": {"kind": "torch", "max_num_seqs": 8, "max_queue": 64}}]}
    with pytest.raises(ConfigError, match=r"max_ongoing_requests \(32\) is below .* \(72\)"):
        build_app(args, environ={})


@pytest.mark.parametrize(
    "path", ["deployments/local.yaml", "deployments/two-models.yaml", "kuberay/configs/gpu.yaml"]
)
def test_shipped_configs_bound_every_queue(path: str) -> None:
    from echoray.serve.app import check_queue_bounds

    keys = {"ECHORAY_AUTH__API_KEYS": '{"k": "t"}'}  # the GPU layout has auth on
    config = load_config(REPO / path, environ=keys)
    for spec in config.models:
        check_queue_bounds(spec)
        assert spec.deployment.max_queued_requests > 0
    assert config.server.gateway.max_queued_requests > 0
