"""The manifests committed under ``kuberay/`` and how each is rendered (deploy layer).

``echoray deploy render --committed kuberay`` rewrites them all from the repository root;
``--check`` only compares, and a unit test does the same, so a committed manifest never
drifts from what ``render`` produces.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from echoray.deploy.render import Kind, render_text
from echoray.deploy.settings import DeployConfig

CPU_CONFIG = "deployments/local.yaml"
GPU_CONFIG = "kuberay/configs/gpu.yaml"


@dataclass(frozen=True)
class CommittedManifest:
    """One committed file: which kind, from which config (relative to the repository
    root), laid out how."""

    filename: str
    kind: Kind
    config: str
    deploy: DeployConfig


COMMITTED: tuple[CommittedManifest, ...] = (
    # The embedded default on CPUs only; LanceDB on the data volume (small installs).
    CommittedManifest("rayservice-cpu.yaml", "rayservice", CPU_CONFIG, DeployConfig()),
    # A vLLM model on the GPU group; LanceDB and the weights on object storage.
    CommittedManifest("rayservice-gpu.yaml", "rayservice", GPU_CONFIG, DeployConfig(gpu=True)),
    CommittedManifest("rayjob-ingest.yaml", "rayjob-ingest", CPU_CONFIG, DeployConfig()),
    CommittedManifest("rayjob-consolidate.yaml", "rayjob-consolidate", CPU_CONFIG, DeployConfig()),
    CommittedManifest("podmonitors.yaml", "podmonitors", CPU_CONFIG, DeployConfig()),
    # Every key either layout reads (the S3 ones come with object storage).
    CommittedManifest("secret.example.yaml", "secret", GPU_CONFIG, DeployConfig()),
)


def render_committed(root: Path) -> dict[str, str]:
    """File name -> the text ``render`` produces for it, configs read under ``root``.

    Raises:
        ConfigError: a config is missing or invalid.
    """
    return {
        item.filename: render_text(item.kind, item.config, item.deploy, base=root)
        for item in COMMITTED
    }


def committed_differences(directory: Path) -> list[str]:
    """What differs between ``directory`` (``kuberay/``) and a fresh render: one line per
    stale, missing or unknown manifest; empty when everything is up to date."""
    expected = render_committed(directory.resolve().parent)
    problems = []
    for filename, text in expected.items():
        path = directory / filename
        if not path.exists():
            problems.append(f"{path}: missing")
        elif path.read_text() != text:
            problems.append(f"{path}: differs from what render produces")
    for path in sorted(directory.glob("*.yaml")):
        if path.name not in expected:
            problems.append(f"{path}: not produced by render (see echoray/deploy/committed.py)")
    return problems
