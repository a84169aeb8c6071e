"""``python -m echoray.jobs.ingest``: load a file or folder into memories (jobs layer).

Reads JSONL, Parquet, CSV/TSV or a folder of text files with pyarrow in record batches,
turns each row into a memory of one user (``--user``) or of the user its row names
(``--user-column``), and sends them to a running cluster with
``POST /v1/memories/batch`` (the server embeds each batch in one embedding call). Memory
ids are deterministic (the ``--id-column``, else a hash of the source path and the row
number, or of the relative path for a folder), so sending a row twice stores it once: the
server counts it as already present. With ``--checkpoint`` the rows acknowledged are
recorded after every batch, and a rerun after a crash starts where the last one stopped.

Rows that cannot become memories (no text, text too long, a bad id, user, session or
date, metadata too large) are counted and reported with their row numbers, never dropped
silently; ``--rejects FILE`` keeps them all as JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from echoray import errors
from echoray.client import AsyncEchoRay
from echoray.jobs.checkpoint import Checkpoint
from echoray.jobs.ingest_rows import KINDS, Columns, Limits, Rejected, to_memory
from echoray.jobs.progress import (
    EXIT_OK,
    JobFailed,
    JobInputError,
    Progress,
    add_connection_options,
    add_progress_option,
    print_summary,
    run_main,
    with_retries,
    write_json_atomic,
)
from echoray.jobs.sources import FORMATS, Source, detect_format
from echoray.protocol.ids import is_identifier

NAME = "echoray.jobs.ingest"
SHOWN_REJECTS = 20


@dataclass
class Batch:
    """Rows ``start`` to ``end`` (exclusive) of the source: memories per user, and rows
    refused before sending."""

    start: int
    end: int
    by_user: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rows_of: dict[str, list[int]] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)


@dataclass
class Counts:
    read: int = 0
    inserted: int = 0
    existing: int = 0
    rejected: int = 0
    batches: int = 0
    rejects: list[Rejected] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)

    def reject(self, rejected: Rejected, stream: TextIO) -> None:
        self.rejected += 1
        self.rejects.append(rejected)
        reason = rejected.reason.split(";")[0].split(" is ")[0]
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        if self.rejected <= SHOWN_REJECTS:
            print(f"rejected row {rejected.row}: {rejected.reason}", file=stream, flush=True)
        elif self.rejected == SHOWN_REJECTS + 1:
            print("more rejected rows: see the summary (and --rejects)", file=stream, flush=True)


class Ingest:
    """One ingest run over an open source, sending through ``client``."""

    def __init__(
        self,
        client: AsyncEchoRay,
        source: Source,
        columns: Columns,
        *,
        user: str | None,
        kind: str,
        batch_size: int,
        limits: Limits,
        retries: int,
        stream: TextIO | None = None,
    ) -> None:
        self.client = client
        self.source = source
        self.columns = columns
        self.user = user
        self.kind = kind
        self.batch_size = batch_size
        self.limits = limits
        self.retries = retries
        self.stream = stream or sys.stderr
        self.counts = Counts()

    def _batches(self, start: int, limit: int | None) -> Any:
        batch = Batch(start, start)
        folder = self.source.format == "folder"
        seen: dict[tuple[str, str], int] = {}  # a repeated id in one request: first one wins
        for row in self.source.rows(start):
            if limit is not None and row.number >= limit:
                break
            batch.end = row.number + 1
            try:
                owner, memory = to_memory(
                    row,
                    self.columns,
                    user=self.user,
                    kind=self.kind,
                    source=self.source.path,
                    folder=folder,
                    limits=self.limits,
                )
            except ValueError as problem:
                batch.rejected.append(Rejected(row.number, str(problem)))
            else:
                key = (owner, memory["id"])
                if key in seen:
                    reason = f"duplicate id {memory['id']!r} (row {seen[key]})"
                    batch.rejected.append(Rejected(row.number, reason))
                else:
                    seen[key] = row.number
                    batch.by_user.setdefault(owner, []).append(memory)
                    batch.rows_of.setdefault(owner, []).append(row.number)
            if batch.end - batch.start >= self.batch_size:
                yield batch
                batch, seen = Batch(batch.end, batch.end), {}
        if batch.end > batch.start:
            yield batch

    def _split(self, memories: list[dict[str, Any]], rows: list[int]) -> list[tuple[Any, Any]]:
        """Parts of one user's memories whose JSON stays under the request size limit."""
        parts: list[tuple[Any, Any]] = []
        size, start = 0, 0
        for index, memory in enumerate(memories):
            grown = size + len(json.dumps(memory, ensure_ascii=False).encode()) + 2
            if index > start and grown > self.limits.max_request_bytes - 512:
                parts.append((memories[start:index], rows[start:index]))
                start, grown = index, grown - size
            size = grown
        parts.append((memories[start:], rows[start:]))
        return parts

    async def _send(self, user: str, memories: list[dict[str, Any]], rows: list[int]) -> None:
        """Send one batch; a batch the server refuses as too large or invalid is halved
        until the rows at fault are found, and those are rejected with its message."""
        try:
            result = await with_retries(
                lambda: self.client.memories.add_batch(user, memories),
                retries=self.retries,
                what=f"batch of {len(memories)} for {user} (rows {rows[0]}-{rows[-1]})",
            )
        except (errors.PayloadTooLargeError, errors.UnprocessableEntityError) as refused:
            if len(memories) == 1:
                self.counts.reject(
                    Rejected(rows[0], f"refused by the server: {refused}"), self.stream
                )
                return
            middle = len(memories) // 2
            await self._send(user, memories[:middle], rows[:middle])
            await self._send(user, memories[middle:], rows[middle:])
            return
        except (errors.AuthenticationError, errors.PermissionDeniedError) as denied:
            raise JobFailed(f"the server refused the API key: {denied}") from denied
        except errors.NotFoundError as missing:
            raise JobFailed(
                f"{missing}: is the URL right, and is memory enabled on the cluster?"
            ) from missing
        self.counts.inserted += int(result["inserted"])
        self.counts.existing += int(result["existing"])
        self.counts.batches += 1

    async def run(self, checkpoint: Checkpoint, limit: int | None, progress: Progress) -> None:
        iterator = iter(self._batches(checkpoint.rows_done, limit))
        while True:
            # pyarrow reads in a thread, so the event loop (and the client) stay responsive.
            batch = await asyncio.to_thread(next, iterator, None)
            if batch is None:
                break
            before = (self.counts.inserted, self.counts.existing, self.counts.rejected)
            for rejected in batch.rejected:
                self.counts.reject(rejected, self.stream)
            for user, memories in batch.by_user.items():
                for part, rows in self._split(memories, batch.rows_of[user]):
                    await self._send(user, part, rows)
            self.counts.read += batch.end - batch.start
            checkpoint.advance(
                batch.end,
                {
                    "read": batch.end - batch.start,
                    "inserted": self.counts.inserted - before[0],
                    "existing": self.counts.existing - before[1],
                    "rejected": self.counts.rejected - before[2],
                },
            )
            progress.update(
                self.counts.read,
                fraction=self.source.fraction_read(),
                extra=f"inserted {self.counts.inserted:,} · already present "
                f"{self.counts.existing:,} · rejected {self.counts.rejected:,}",
            )


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m echoray.jobs.ingest",
        description=(
            "Load JSONL, Parquet, CSV/TSV or a folder of text files into memories of a "
            "running echoray cluster, in batches, resumable with --checkpoint. Submit it as "
            "a Ray job: ray job submit --address http://HEAD:8265 -- python -m "
            "echoray.jobs.ingest data.parquet --user alice --url http://SERVE:8000"
        ),
        epilog=(
            "Exit codes: 0 done (rejected rows are counted in the summary), 1 the server "
            "refused or stayed down, 2 bad input or options (nothing was sent)."
        ),
    )
    parser.add_argument(
        "source",
        type=Path,
        help="a .jsonl/.ndjson, .parquet, .csv/.tsv file, "
        "or a folder of .txt/.md/.rst files (one memory per file)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="the source format (default: from the suffix; a folder is 'folder')",
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="every memory belongs to this user")
    who.add_argument("--user-column", help="the column naming each row's user")
    parser.add_argument("--text-column", default="text", help="the memory text (default text)")
    parser.add_argument(
        "--id-column",
        help="memory ids (default: a hash of the source path "
        "and the row number, or of a folder file's path)",
    )
    parser.add_argument(
        "--created-at-column",
        help="when each memory happened: a timestamp, "
        "a date, ISO 8601 text or epoch seconds (default: now)",
    )
    parser.add_argument("--session-column", help="each memory's session id")
    parser.add_argument(
        "--metadata-columns",
        default="",
        help="comma-separated columns kept "
        "as each memory's metadata (a folder has path and modified)",
    )
    parser.add_argument(
        "--kind", choices=KINDS, default="episodic", help="memory kind (default episodic)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=256,
        help="rows per request; at "
        "most the server's memory.max_batch (512 by default) (default 256)",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="JSON file recording the rows done; "
        "a rerun with the same source and options resumes from it",
    )
    parser.add_argument("--limit", type=int, help="stop after this many rows of the source")
    parser.add_argument(
        "--max-text-chars",
        type=int,
        default=Limits.max_text_chars,
        help="reject longer texts (the server's memory.max_text_chars; default %(default)s)",
    )
    parser.add_argument(
        "--max-metadata-bytes",
        type=int,
        default=Limits.max_metadata_bytes,
        help="reject larger metadata (memory.max_metadata_bytes; default %(default)s)",
    )
    parser.add_argument(
        "--max-request-bytes",
        type=int,
        default=Limits.max_request_bytes,
        help="split batches whose JSON is larger (keep under the server's "
        "limits.max_body_bytes; default %(default)s)",
    )
    parser.add_argument(
        "--rejects",
        type=Path,
        help="write every rejected row (row number and reason) to this JSON-lines file",
    )
    add_progress_option(parser, 2.0)
    add_connection_options(parser, environ)
    return parser


def _check_options(args: argparse.Namespace) -> None:
    if not 1 <= args.batch_size <= 4096:
        raise JobInputError(
            "--batch-size must be from 1 to 4096 (the server allows 512 by default)"
        )
    if args.limit is not None and args.limit < 0:
        raise JobInputError("--limit must not be negative")
    if args.user is not None and not is_identifier(args.user):
        raise JobInputError(
            f"--user {args.user!r} must be 1-128 characters of letters, digits and . _ - : @ + ="
        )


async def ingest(
    args: argparse.Namespace, client: AsyncEchoRay, stream: TextIO | None = None
) -> dict[str, Any]:
    """Run the job with parsed ``args`` through ``client``; return the summary.

    Raises:
        JobInputError: bad source, columns or options, found before anything is sent.
        JobFailed: the server refused the batches or stayed down.
    """
    _check_options(args)
    columns = Columns(
        text=args.text_column,
        user=args.user_column,
        id=args.id_column,
        created_at=args.created_at_column,
        session=args.session_column,
        metadata=tuple(c.strip() for c in args.metadata_columns.split(",") if c.strip()),
    )
    source_path = Path(args.source).resolve()
    fmt = detect_format(source_path, args.format)
    strings = [c for c in (columns.user, columns.id, columns.session, columns.created_at) if c]
    source = Source(source_path, fmt, columns.needed(), columns.text, strings)
    options = {
        "format": fmt,
        "user": args.user,
        "columns": columns.__dict__ | {"metadata": list(columns.metadata)},
        "kind": args.kind,
    }
    checkpoint = Checkpoint.open(args.checkpoint, source.fingerprint(), options)
    limits = Limits(args.max_text_chars, args.max_metadata_bytes, args.max_request_bytes)
    job = Ingest(
        client,
        source,
        columns,
        user=args.user,
        kind=args.kind,
        batch_size=args.batch_size,
        limits=limits,
        retries=args.retries,
        stream=stream,
    )
    total = source.total if args.limit is None else min(source.total or args.limit, args.limit)
    remaining = None if total is None else max(total - checkpoint.rows_done, 0)
    progress = Progress("ingest", total=remaining, every_s=args.progress_every, stream=stream)
    started = time.monotonic()
    skipped = checkpoint.rows_done
    if skipped:
        print(f"ingest: resuming after row {skipped - 1} ({checkpoint.path})", file=job.stream)
    if not checkpoint.complete:
        await job.run(checkpoint, args.limit, progress)
        if args.limit is None:
            checkpoint.advance(checkpoint.rows_done, {}, complete=True)
    seconds = time.monotonic() - started
    counts = job.counts
    progress.update(counts.read, force=True, extra="done")
    if args.rejects:
        args.rejects.parent.mkdir(parents=True, exist_ok=True)
        with args.rejects.open("w", encoding="utf-8") as file:
            for rejected in counts.rejects:
                file.write(json.dumps({"row": rejected.row, "reason": rejected.reason}) + "\n")
    return {
        "source": str(source_path),
        "format": fmt,
        "read": counts.read,
        "inserted": counts.inserted,
        "already_present": counts.existing,
        "rejected": counts.rejected,
        "rejected_by_reason": counts.reasons,
        "skipped_from_checkpoint": skipped,
        "batches": counts.batches,
        "seconds": round(seconds, 3),
        "rows_per_s": round(counts.read / seconds, 1) if seconds > 0 else 0.0,
        "checkpoint": str(checkpoint.path) if checkpoint.path else None,
        "totals_over_runs": dict(checkpoint.totals) if checkpoint.path else None,
    }


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    import os

    args = build_parser(os.environ if environ is None else environ).parse_args(argv)

    async def job() -> int:
        async with AsyncEchoRay(args.url, args.api_key, timeout=args.timeout) as client:
            summary = await ingest(args, client)
        print_summary("ingest summary", {k: v for k, v in summary.items() if v is not None})
        if args.summary_json:
            write_json_atomic(args.summary_json, summary)
        return EXIT_OK

    return run_main(job, NAME)


if __name__ == "__main__":
    sys.exit(main())
