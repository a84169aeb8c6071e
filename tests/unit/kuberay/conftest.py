"""Fixtures for the KubeRay manifest tests: the committed manifests, parsed."""

from __future__ import annotations

from typing import Any

import pytest

from echoray.deploy.committed import COMMITTED
from echoray.deploy.documents import from_yaml
from tests.unit.kuberay.crds import KUBERAY, crd_dir


@pytest.fixture(scope="session")
def committed() -> dict[str, list[dict[str, Any]]]:
    """File name -> the documents of each committed manifest."""
    return {item.filename: from_yaml((KUBERAY / item.filename).read_text()) for item in COMMITTED}


@pytest.fixture(scope="session")
def all_documents(committed: dict[str, list[dict[str, Any]]]) -> list[tuple[str, dict]]:
    """(file name, document) for every document of every committed manifest."""
    return [(name, doc) for name, docs in committed.items() for doc in docs]


@pytest.fixture(scope="session")
def kuberay_crds() -> None:
    """Fail, not skip, when the CRDs are missing: the validation would silently vanish."""
    if not (crd_dir() / "ray.io_rayservices.yaml").exists():
        pytest.fail(
            f"KubeRay CRDs not found in {crd_dir()}: they are vendored in "
            "tests/fixtures/kuberay-crds (or set ECHORAY_KUBERAY_CRDS)"
        )
