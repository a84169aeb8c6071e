"""What every job shares (jobs layer): connection options, progress lines, the summary,
retries of transient faults and exit codes.

Progress goes to stderr, one line at a time (no carriage returns, so ``ray job logs`` and a
file show every line); the summary goes to stdout and, with ``--summary-json``, to a file.
Exit codes: 0 done, 1 the job failed on the way (the server refused or stayed down), 2 bad
input found before anything was written (as argparse does for bad options).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, TextIO, TypeVar

import httpx

from echoray import errors

T = TypeVar("T")
DEFAULT_URL = "http://127.0.0.1:8000"
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class JobInputError(Exception):
    """Bad input (file, column, option) found before anything was written: exit code 2."""


class JobFailed(Exception):
    """The job could not finish (server down, refused); exit code 1."""


def add_connection_options(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    """``--url``, ``--api-key`` and ``--timeout``, defaulting to ``ECHORAY_URL`` and
    ``ECHORAY_API_KEY`` from the environment."""
    group = parser.add_argument_group("cluster")
    group.add_argument(
        "--url",
        default=environ.get("ECHORAY_URL", DEFAULT_URL),
        help="base URL of the echoray HTTP API (env ECHORAY_URL; default %(default)s)",
    )
    group.add_argument(
        "--api-key",
        default=environ.get("ECHORAY_API_KEY", "none"),
        help="API key, sent as a Bearer token; it picks the tenant (env ECHORAY_API_KEY; "
        "not needed when auth is off)",
    )
    group.add_argument(
        "--timeout", type=float, default=300.0, help="seconds per HTTP call (default %(default)s)"
    )
    group.add_argument(
        "--retries",
        type=int,
        default=6,
        help="retries of a call that met a transient fault (503, 429, connection lost), "
        "with exponential backoff and jitter (default %(default)s)",
    )
    parser.add_argument(
        "--summary-json", type=Path, help="also write the final summary to this JSON file"
    )


def add_progress_option(parser: argparse.ArgumentParser, every_s: float, what: str = "") -> None:
    """``--progress-every``: seconds between progress lines (``what``: when they print)."""
    parser.add_argument(
        "--progress-every",
        type=float,
        default=every_s,
        help=f"seconds between progress lines{what} (default %(default)s)",
    )


def format_duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """Progress lines: done / total (or a fraction of the input read), rate and ETA.

    A line is written at the first update, then at most every ``every_s`` seconds, and
    always when ``force`` is set (the last one).
    """

    def __init__(
        self,
        label: str,
        *,
        unit: str = "rows",
        total: int | None = None,
        every_s: float = 2.0,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.unit = unit
        self.total = total
        self.every_s = every_s
        self._stream = stream
        self._clock = clock
        self._started = clock()
        self._last: float | None = None

    def elapsed(self) -> float:
        return self._clock() - self._started

    def update(
        self, done: int, *, fraction: float | None = None, extra: str = "", force: bool = False
    ) -> None:
        """Report ``done`` units; ``fraction`` (0-1) of the input read stands in for a
        total when the total is not known (a JSONL or CSV file read as a stream)."""
        now = self._clock()
        if not force and self._last is not None and now - self._last < self.every_s:
            return
        self._last = now
        elapsed = max(now - self._started, 1e-9)
        rate = done / elapsed
        if self.total:
            fraction = min(done / self.total, 1.0)
            position = f"{done:,}/{self.total:,} {self.unit} ({100 * fraction:.1f}%)"
        elif fraction is not None:
            position = f"{done:,} {self.unit} ({100 * fraction:.1f}% of the input read)"
        else:
            position = f"{done:,} {self.unit}"
        parts = [f"{self.label}: {position}", f"{rate:,.1f} {self.unit}/s"]
        if fraction and 0 < fraction < 1:
            parts.append(f"ETA {format_duration(elapsed * (1 - fraction) / fraction)}")
        parts.append(f"elapsed {format_duration(elapsed)}")
        if extra:
            parts.append(extra)
        print(" · ".join(parts), file=self._stream or sys.stderr, flush=True)


def print_summary(title: str, fields: Mapping[str, Any], stream: TextIO | None = None) -> None:
    """The closing summary, one aligned ``name: value`` line per field."""
    out = stream or sys.stdout
    width = max((len(name) for name in fields), default=0)
    print(f"== {title} ==", file=out)
    for name, value in fields.items():
        shown = f"{value:,.2f}" if isinstance(value, float) else value
        shown = f"{shown:,}" if isinstance(shown, int) and not isinstance(shown, bool) else shown
        print(f"{name.ljust(width)}  {shown}", file=out)
    out.flush()


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON through a temporary file and ``os.replace``, so a reader (or a
    crash) never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(data, file, indent=2, sort_keys=False, default=str)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


TRANSIENT = (errors.ServiceUnavailableError, errors.RateLimitError, httpx.TransportError)


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    retries: int,
    what: str,
    base_delay_s: float = 0.5,
    max_delay_s: float = 30.0,
) -> T:
    """Await ``call()``, retrying transient faults with exponential backoff and full jitter
    (or the server's ``Retry-After``); other errors go straight up.

    Raises:
        JobFailed: the fault persisted through ``retries`` retries.
    """
    for attempt in range(retries + 1):
        try:
            return await call()
        except TRANSIENT as fault:
            if attempt == retries:
                raise JobFailed(
                    f"{what}: still failing after {retries} retries: {fault}"
                ) from fault
            delay = random.uniform(0, min(max_delay_s, base_delay_s * 2**attempt))
            retry_after = getattr(fault, "retry_after", None)
            if retry_after:
                delay = max(delay, float(retry_after))
            print(
                f"{what}: {type(fault).__name__}: {fault}; retry {attempt + 1}/{retries} "
                f"in {delay:.1f}s",
                file=sys.stderr,
                flush=True,
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def run_main(job: Callable[[], Coroutine[Any, Any, int]], name: str) -> int:
    """Run a job's coroutine and turn its failures into a message and an exit code."""
    try:
        return asyncio.run(job())
    except JobInputError as problem:
        print(f"{name}: error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (JobFailed, errors.EchoRayError, httpx.HTTPError) as problem:
        print(f"{name}: failed: {type(problem).__name__}: {problem}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table (columns from the first row; floats with 3 decimals)."""
    if not rows:
        return "(no rows)"
    names = list(rows[0])

    def cell(value: Any) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    cells = [[cell(row.get(name, "")) for name in names] for row in rows]
    widths = [max(len(name), *(len(line[i]) for line in cells)) for i, name in enumerate(names)]
    lines = ["  ".join(name.ljust(width) for name, width in zip(names, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    return "\n".join(lines)
