"""Describe where a benchmark ran: machine, library versions, git commit, date.

Every result file carries this so numbers from different machines or commits are never
compared by accident. Each probe tolerates failure and records None instead.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Distribution names whose versions shape the numbers; "echoray" is handled apart because the
# package may be importable from the checkout without being installed.
TRACKED_DISTRIBUTIONS = (
    "numpy",
    "torch",
    "transformers",
    "sentence-transformers",
    "ray",
    "lancedb",
)


def utc_now_iso() -> str:
    """Return the current UTC time as an ISO 8601 string to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _cpu_model(cpuinfo: str | None) -> str | None:
    for line in (cpuinfo or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "Hardware"):
            return value.strip() or None
    return platform.processor() or None


def _memory_gib(meminfo: str | None) -> float | None:
    for line in (meminfo or "").splitlines():
        if line.startswith("MemTotal:"):
            kib = int(line.split()[1])
            return round(kib / 1024**2, 1)
    return None


def machine_info() -> dict[str, Any]:
    """Return cores, memory (GiB), CPU model and platform of this machine."""
    return {
        "cpu_count": os.cpu_count(),
        "memory_gib": _memory_gib(_read_text(Path("/proc/meminfo"))),
        "cpu_model": _cpu_model(_read_text(Path("/proc/cpuinfo"))),
        "platform": platform.platform(),
    }


def _distribution_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _echoray_version() -> str | None:
    installed = _distribution_version("echoray")
    if installed is not None:
        return installed
    # Not installed but maybe importable from the checkout; `import echoray` is kept light.
    try:
        if importlib.util.find_spec("echoray") is None:
            return None
        import echoray
    except Exception:  # a half-written package must not break the benchmark run
        return None
    return str(getattr(echoray, "__version__", "unknown"))


def library_versions() -> dict[str, str | None]:
    """Return python's version and those of the tracked libraries (None when missing)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in TRACKED_DISTRIBUTIONS:
        versions[name] = _distribution_version(name)
    versions["echoray"] = _echoray_version()
    return versions


def git_state(repo_root: Path) -> dict[str, Any]:
    """Return ``{"commit", "dirty"}`` for ``repo_root``; both None when git cannot tell."""

    def git(*args: str) -> str | None:
        try:
            completed = subprocess.run(
                ["git", *args], cwd=repo_root, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return completed.stdout.strip() if completed.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}
