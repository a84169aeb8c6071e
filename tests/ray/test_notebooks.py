"""The notebooks, executed top to bottom with nbclient against echoray on a real local Ray
cluster (fake chat model, real MiniLM embedder, real LanceDB memory), each within
``BUDGET_S``. The kernel finds the server through ``ECHORAY_URL``."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.ray
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
BUDGET_S = 180  # the bound per notebook
CELL_TIMEOUT_S = 150


@pytest.fixture(scope="module")
def echoray_url(echoray_app: tuple[str, str]) -> str:
    return echoray_app[0]


def images(notebook: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


@pytest.mark.parametrize(
    ("name", "plots"),
    [("01-quickstart.ipynb", 1), ("02-memory-explorer.ipynb", 3), ("03-evaluation.ipynb", 1)],
)
def test_notebook_runs_top_to_bottom(echoray_url: str, name: str, plots: int) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    env = {**os.environ, "ECHORAY_URL": echoray_url, "ECHORAY_API_KEY": "none"}
    started = time.perf_counter()
    client.execute(env=env)  # raises CellExecutionError naming the failing cell
    seconds = time.perf_counter() - started
    print(f"{name}: {seconds:.1f} s")
    assert seconds < BUDGET_S, f"{name} took {seconds:.0f} s"
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    assert images(notebook) >= plots, "a plot did not render"
