"""Strip outputs and execution counts from notebooks, so git holds only their source.

    python tools/strip_notebooks.py            # every notebooks/*.ipynb, in place
    python tools/strip_notebooks.py --check    # exit 1, naming them, if any is not stripped
    python tools/strip_notebooks.py a.ipynb    # just these

Run it before committing a notebook you ran; tests/unit/test_notebooks_stripped.py fails
while a committed notebook has outputs. Needs nbformat (the dev extra).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def unstripped_cells(notebook: Any) -> list[int]:
    """Indices of the code cells that carry outputs, an execution count or timings."""
    return [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        and (cell.outputs or cell.execution_count is not None or "execution" in cell.metadata)
    ]


def strip(notebook: Any) -> bool:
    """Clear outputs, execution counts and nbclient's timing metadata; True if it changed."""
    dirty = unstripped_cells(notebook)
    for index in dirty:
        cell = notebook.cells[index]
        cell.outputs = []
        cell.execution_count = None
        cell.metadata.pop("execution", None)
    return bool(dirty)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if dirty")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(NOTEBOOKS.glob("*.ipynb"))
    dirty = []
    for path in paths:
        notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
        if args.check:
            if unstripped_cells(notebook):
                dirty.append(path)
        elif strip(notebook):
            nbformat.write(notebook, path)
            print(f"stripped {path}")
    for path in dirty:
        print(f"{path}: has outputs; run python tools/strip_notebooks.py", file=sys.stderr)
    return 1 if dirty else 0


if __name__ == "__main__":
    sys.exit(main())
