"""The committed notebooks hold source only (no outputs), and tools/strip_notebooks.py
strips a notebook that was run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
TOOL = REPO / "tools" / "strip_notebooks.py"


def test_the_three_notebooks_are_there() -> None:
    assert [path.name for path in NOTEBOOKS] == [
        "01-quickstart.ipynb",
        "02-memory-explorer.ipynb",
        "03-evaluation.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_valid_and_stripped(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    dirty = [i for i, cell in enumerate(code) if cell.outputs or cell.execution_count is not None]
    assert not dirty, f"code cells {dirty} have outputs: run python tools/strip_notebooks.py"
    assert all("execution" not in cell.metadata for cell in code)
    # Parameters come first and from the environment, so the tests can point it anywhere.
    assert "ECHORAY_URL" in code[0].source and "os.environ" in code[0].source


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=60
    )


def test_strip_tool_clears_outputs_of_a_run_notebook(tmp_path: Path) -> None:
    path = tmp_path / "run.ipynb"
    shutil.copy(NOTEBOOKS[0], path)
    notebook = nbformat.read(path, as_version=4)
    cell = next(cell for cell in notebook.cells if cell.cell_type == "code")
    cell.execution_count = 3
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]
    cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00Z"}
    nbformat.write(notebook, path)

    check = run_tool("--check", str(path))
    assert check.returncode == 1 and "has outputs" in check.stderr
    assert run_tool(str(path)).returncode == 0
    assert run_tool("--check", str(path)).returncode == 0
    stripped = nbformat.read(path, as_version=4)
    assert [c.source for c in stripped.cells] == [c.source for c in notebook.cells]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in stripped.cells)
