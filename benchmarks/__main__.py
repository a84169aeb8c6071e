"""Command line of the benchmark runner: ``python -m benchmarks run|list``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.runner import BENCHMARKS, DEFAULT_REPORT, UnknownBenchmarkError, run_benchmarks


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m benchmarks``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list registered benchmarks")
    run = commands.add_parser("run", help="run benchmarks (all when none is named)")
    run.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run")
    run.add_argument("--quick", action="store_true", help="reduced run, as `make bench` does")
    run.add_argument("--out", type=Path, default=Path("results"), help="results folder")
    run.add_argument("--data", type=Path, default=None, help="input file for the benchmark")
    run.add_argument(
        "--repeats", type=int, default=None, help="timed repeats (default 3 quick, 5 full)"
    )
    run.add_argument(
        "--report",
        type=Path,
        default=DEFAULT_REPORT,
        help=f"markdown report to regenerate (default {DEFAULT_REPORT.name} at the repo root)",
    )
    run.add_argument("--no-report", action="store_true", help="do not regenerate the report")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (1 if any benchmark failed)."""
    args = build_parser().parse_args(argv)
    if args.command == "list":
        for name, module in BENCHMARKS.items():
            print(f"{name}\t{module}")
        return 0
    if args.repeats is not None and args.repeats < 1:
        print("--repeats must be at least 1", file=sys.stderr)
        return 2
    try:
        outcomes = run_benchmarks(
            args.names,
            quick=args.quick,
            out_dir=args.out,
            data=args.data,
            repeats=args.repeats,
            report_path=None if args.no_report else args.report,
        )
    except UnknownBenchmarkError as error:
        print(error, file=sys.stderr)
        return 2
    return 0 if all(outcome.ok for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
