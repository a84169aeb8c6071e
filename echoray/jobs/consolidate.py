"""``python -m echoray.jobs.consolidate``: one consolidation run on a running cluster, and
what it did (jobs layer).

Asks the cluster (``POST /v1/admin/consolidate``, an admin key when auth is on) to
consolidate one tenant's users or all of them; with ``--no-wait`` it returns once the run
started, otherwise it polls ``GET /v1/admin/consolidation`` until the run is done (no
request stays open for the length of the run), printing its progress per shard, then a
table of counts per shard and step (promoted, merged, reflections, patterns, archived)
with each step's time, and a summary.
Exit code 0 when every shard finished, 1 when one failed or another run held them all.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from echoray import errors
from echoray.client import AsyncEchoRay
from echoray.jobs.progress import (
    EXIT_FAILED,
    EXIT_OK,
    JobFailed,
    add_connection_options,
    add_progress_option,
    format_duration,
    format_table,
    print_summary,
    run_main,
    write_json_atomic,
)

NAME = "echoray.jobs.consolidate"
STEP_COUNTS = (
    ("promote", "promoted"),
    ("merge", "merged"),
    ("reflect", "reflections"),
    ("patterns", "patterns"),
    ("forget", "archived"),
)


def shard_rows(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per shard: its state, users, the count and time of each step."""
    rows = []
    for report in run.get("shards", []):
        counts, ms = report.get("counts", {}), report.get("ms", {})
        row: dict[str, Any] = {
            "shard": report.get("shard"),
            "state": report.get("state", "?"),
            "users": report.get("users", 0),
        }
        for step, count in STEP_COUNTS:
            row[count] = f"{counts.get(count, 0)} ({ms.get(step, 0.0):.0f} ms)"
        problems = report.get("errors") or ([report["error"]] if report.get("error") else [])
        row["errors"] = "; ".join(problems) or "-"
        rows.append(row)
    return rows


def _progress_line(run: Mapping[str, Any], elapsed_s: float) -> str:
    states = [f"{r.get('shard')}:{r.get('state')}" for r in run.get("shards", [])]
    return (
        f"consolidate: {run.get('run_id')} running · shards {' '.join(states) or '-'}"
        f" · elapsed {format_duration(elapsed_s)}"
    )


async def _wait_for(
    client: AsyncEchoRay, run_id: str, args: argparse.Namespace, started: float, out: TextIO
) -> dict[str, Any]:
    """Poll ``GET /v1/admin/consolidation`` until run ``run_id`` is in the history.

    A run may take longer than any proxy or load balancer keeps one request open, so the
    job never holds a request while it waits.

    Raises:
        JobFailed: the run was still running after ``--timeout`` seconds, or vanished.
    """
    deadline = started + args.wait_timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(args.progress_every)
        try:
            status = await client.admin.consolidation()
        except (errors.EchoRayError, OSError) as problem:  # a blip: keep waiting
            print(f"consolidate: status unavailable ({problem})", file=out, flush=True)
            continue
        for run in status.get("history", []):
            if run.get("run_id") == run_id:
                return dict(run)
        running = [r for r in status.get("running", []) if r.get("run_id") == run_id]
        if not running:  # e.g. the Consolidator restarted and lost the run
            raise JobFailed(f"run {run_id} is neither running nor in the history any more")
        print(_progress_line(running[0], time.monotonic() - started), file=out, flush=True)
    raise JobFailed(
        f"run {run_id} still running after {args.wait_timeout:.0f} s "
        "(see GET /v1/admin/consolidation)"
    )


async def consolidate(
    args: argparse.Namespace, client: AsyncEchoRay, stream: TextIO | None = None
) -> dict[str, Any]:
    """Start a run (and wait for it unless ``--no-wait``); return the run as the server
    reported it.

    Raises:
        JobFailed: the server refused (a missing admin key, consolidation not served), or
            the run did not finish within ``--wait-timeout``.
    """
    out = stream or sys.stderr
    started = time.monotonic()
    print(f"consolidate: tenant {args.tenant or 'all'} on {args.url}", file=out, flush=True)
    try:
        run = await client.admin.consolidate(args.tenant, wait=False)
    except (errors.AuthenticationError, errors.PermissionDeniedError) as denied:
        raise JobFailed(f"consolidation needs an admin key: {denied}") from denied
    except errors.NotFoundError as missing:
        raise JobFailed(f"{missing}: does this cluster serve /v1/admin/consolidate?") from missing
    if not args.no_wait and run.get("state") == "running":
        run = await _wait_for(client, run["run_id"], args, started, out)
    run["job_seconds"] = round(time.monotonic() - started, 3)
    return run


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m echoray.jobs.consolidate",
        description=(
            "Run consolidation on a running echoray cluster (promote short-term memory, "
            "merge near-duplicates, write reflections, learn patterns, archive what is "
            "forgotten, compact) and report counts per shard and step. Needs an admin key "
            "when auth is on."
        ),
        epilog="Exit codes: 0 every shard done, 1 a shard failed, the run was skipped or "
        "the server refused, 2 bad options.",
    )
    parser.add_argument("--tenant", help="only this tenant's users (default: every tenant)")
    parser.add_argument(
        "--no-wait", action="store_true", help="return once the run started (prints its id)"
    )
    add_progress_option(parser, 5.0, " while waiting")
    add_connection_options(parser, environ)
    parser.add_argument(
        "--wait-timeout",
        type=float,
        default=3600.0,
        help="seconds to wait for the run to finish (default %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    import os

    args = build_parser(os.environ if environ is None else environ).parse_args(argv)

    async def job() -> int:
        async with AsyncEchoRay(args.url, args.api_key, timeout=args.timeout) as client:
            run = await consolidate(args, client)
        if run.get("shards"):
            print(format_table(shard_rows(run)))
        counts = run.get("counts", {})
        print_summary(
            "consolidate summary",
            {
                "run": run.get("run_id"),
                "state": run.get("state"),
                "tenant": run.get("tenant") or "all",
                **{name: counts.get(name, 0) for _, name in STEP_COUNTS},
                "compacted": counts.get("compacted", 0),
                "seconds": run["job_seconds"],
            },
        )
        if args.summary_json:
            write_json_atomic(args.summary_json, run)
        if args.no_wait or run.get("state") == "done":
            return EXIT_OK
        print(f"consolidate: the run ended {run.get('state')!r}", file=sys.stderr)
        return EXIT_FAILED

    return run_main(job, NAME)


if __name__ == "__main__":
    sys.exit(main())
