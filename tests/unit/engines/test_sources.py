from pathlib import Path

import pytest

from echoray.engines.sources import cached_model_dir, resolve_source
from echoray.errors import ConfigError


def test_builtin_model_resolves_to_the_packaged_gguf() -> None:
    source = resolve_source("builtin:smollm2-135m-instruct")
    assert source.is_gguf and source.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert source.path.stat().st_size > 50_000_000


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("builtin:nope", "unknown builtin"),
        ("/does/not/exist.gguf", "does not exist"),
        ("ftp://host/model.gguf", "supported schemes"),
    ],
)
def test_bad_sources_fail_with_a_clear_message(source: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_source(source)


def test_a_file_that_is_not_gguf_or_a_folder_without_config_is_refused(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ConfigError, match="gguf"):
        resolve_source(str(tmp_path / "weights.bin"))
    with pytest.raises(ConfigError, match=r"config\.json"):
        resolve_source(str(tmp_path))


def test_remote_folder_is_copied_once_into_the_cache(tmp_path: Path) -> None:
    remote = tmp_path / "bucket" / "my-model"
    remote.mkdir(parents=True)
    (remote / "config.json").write_text("{}")
    (remote / "model.safetensors").write_bytes(b"\0" * 1024)
    cache = tmp_path / "cache"
    first = resolve_source(f"file://{remote}", cache)
    assert not first.is_gguf and first.path.is_relative_to(cache)
    assert (first.path / "model.safetensors").stat().st_size == 1024
    (remote / "config.json").unlink()  # a second resolve must not go back to the remote
    assert resolve_source(f"file://{remote}", cache).path == first.path


def test_missing_remote_object_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_source(f"file://{tmp_path}/nothing.gguf", tmp_path / "cache")


def test_gguf_conversion_runs_once_and_is_reused(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    calls = []

    def convert(source, target: Path) -> None:
        calls.append(source.path)
        (target / "config.json").write_text("{}")

    source = resolve_source(str(gguf))
    first = cached_model_dir(source, tmp_path / "cache", convert)
    second = cached_model_dir(source, tmp_path / "cache", convert)
    assert first == second and (first / "config.json").exists() and len(calls) == 1


def test_failed_conversion_leaves_no_half_written_cache(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")

    def broken(source, target: Path) -> None:
        (target / "partial").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        cached_model_dir(resolve_source(str(gguf)), tmp_path / "cache", broken)
    assert not [p for p in (tmp_path / "cache" / "models").iterdir() if p.is_dir()]
