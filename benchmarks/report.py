"""Render BENCHMARKS.md from every ``<out>/*.json`` result file.

The page is generated, never edited by hand: a header (date, machine), how to reproduce the
numbers, then one section per benchmark with its table, plot and notes. A run of some
benchmarks replaces their sections and keeps the others as the page had them (each section
carries its own date, commit and machine), so a partial run never drops a figure.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.environment import utc_now_iso

REPRODUCE = """\
## How to reproduce

```sh
make bench                                      # = python -m benchmarks run --quick --out results/
python -m benchmarks run --out results/         # full run of every benchmark
python -m benchmarks run retrieval --data locomo10.json --out results/   # another LoCoMo file
python -m benchmarks list                       # what is registered
```

Each run writes `results/<name>.json` (figures, parameters, machine, versions, commit) and
`results/<name>.png`, then regenerates this page: the sections of the benchmarks in
`results/` are replaced, every other section is kept as it was.
Figures are medians over repeats with their spread; ratios compare against a baseline
measured in the same run.
"""


def load_results(out_dir: Path) -> list[dict[str, Any]]:
    """Read every result JSON in ``out_dir``, sorted by benchmark name; unreadable files skipped."""
    results = []
    for path in sorted(out_dir.glob("*.json")):
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(payload, dict) and "name" in payload and "table" in payload:
            payload["_folder"] = str(path.parent)  # to find the plot; never written back
            results.append(payload)
    return sorted(results, key=lambda result: str(result["name"]))


def format_cell(value: Any) -> str:
    """Format one table value: None as a dash, floats to a readable precision."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """Render rows as a GitHub markdown table; columns in order of first appearance."""
    if not rows:
        return "_(no rows)_\n"
    columns: list[str] = []
    for row in rows:
        columns.extend(column for column in row if column not in columns)
    lines = [
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    for row in rows:
        lines.append("| " + " | ".join(format_cell(row.get(column)) for column in columns) + " |")
    return "\n".join(lines) + "\n"


def describe_machine(machine: dict[str, Any]) -> str:
    """One line naming the CPU, cores and memory of a result's machine."""
    cpu = machine.get("cpu_model") or "unknown CPU"
    cores = machine.get("cpu_count") or "?"
    memory = machine.get("memory_gib")
    memory_text = f"{memory} GiB RAM" if memory is not None else "unknown RAM"
    return f"{cpu}, {cores} cores, {memory_text}"


def _section(result: dict[str, Any], report_path: Path) -> str:
    name = result["name"]
    commit = (result.get("git") or {}).get("commit")
    commit_text = commit[:12] if commit else "no commit"
    if (result.get("git") or {}).get("dirty"):
        commit_text += " (uncommitted changes)"
    context = result.get("context") or {}
    parts = [
        f"## {name}\n",
        f"Measured {result.get('date', '?')} on {describe_machine(result.get('machine') or {})}; "
        f"{commit_text}; quick={context.get('quick')}, repeats={context.get('repeats')}.\n",
    ]
    plot_name = result.get("plot_file")
    plot = Path(result.get("_folder", ".")) / plot_name if plot_name else None
    if plot is not None and plot.is_file():
        relative = Path(os.path.relpath(plot.resolve(), report_path.parent.resolve())).as_posix()
        # Benchmark outputs stay out of git, so this is a pointer, not an embedded image.
        parts.append(f"Plot: `{relative}` (written by the run; results/ is not committed).\n")
    parts.append(markdown_table(result.get("table") or []))
    notes = result.get("notes") or []
    if notes:
        parts.append("\n".join(f"- {note}" for note in notes) + "\n")
    return "\n".join(parts)


_SECTION_HEADING = re.compile(r"^## (\S+)\n", re.MULTILINE)


def existing_sections(text: str) -> dict[str, str]:
    """The benchmark sections of a page this module wrote, by name ('How to reproduce' has
    spaces in its heading, so it is not one)."""
    headings = list(_SECTION_HEADING.finditer(text))
    sections = {}
    ends = [heading.start() for heading in headings[1:]] + [len(text)]
    for heading, end in zip(headings, ends[: len(headings)], strict=True):
        sections[heading.group(1)] = text[heading.start() : end].rstrip("\n") + "\n"
    return sections


def render_report(
    results: Sequence[dict[str, Any]], report_path: Path, kept: dict[str, str] | None = None
) -> str:
    """Return the whole BENCHMARKS.md text for ``results`` (as loaded by load_results).

    ``kept`` holds earlier sections by name; those without a new result stay as they were.
    """
    newest = max(results, key=lambda result: str(result.get("date", "")), default=None)
    machine = describe_machine(newest.get("machine") or {}) if newest else "no results yet"
    header = (
        "# echoray benchmarks\n\n"
        "<!-- generated by `python -m benchmarks run`; do not edit by hand -->\n\n"
        f"Generated {utc_now_iso()}. Latest results measured on {machine}.\n"
    )
    fresh = {str(result["name"]): _section(result, report_path) for result in results}
    merged = {**(kept or {}), **fresh}
    sections = [merged[name] for name in sorted(merged)]
    body = "\n".join(sections) if sections else "_No results yet: run `make bench`._\n"
    return "\n".join([header, REPRODUCE, body])


def write_report(out_dir: Path, report_path: Path) -> Path:
    """Regenerate ``report_path`` from every result in ``out_dir``, keeping the sections of
    benchmarks that have no result there; return the path written."""
    previous = report_path.read_text(encoding="utf-8") if report_path.is_file() else ""
    text = render_report(load_results(out_dir), report_path, existing_sections(previous))
    report_path.write_text(text, encoding="utf-8")
    return report_path
