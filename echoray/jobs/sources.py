"""Readers of the ingest job (jobs layer): JSONL, Parquet, CSV/TSV and folders of text files
as a stream of numbered rows, read with pyarrow in record batches so a large file never
loads whole.

Every reader checks what it can before a row is sent (the file exists, its format, the
named columns are there, the text column holds text) and raises ``JobInputError`` with a
sentence saying what is wrong. Row numbers count from 0 in file order; a folder's rows are
its files in sorted path order, with columns ``text``, ``path`` (relative) and ``modified``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from echoray.jobs.progress import JobInputError

FORMATS = ("jsonl", "parquet", "csv", "tsv", "folder")
_SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "tsv",
}
TEXT_FILE_SUFFIXES = (".txt", ".md", ".markdown", ".rst")
_BLOCK_BYTES = 1 << 20


@dataclass(frozen=True)
class Row:
    number: int
    values: dict[str, Any]


def detect_format(path: Path, given: str | None) -> str:
    """The source format: ``given``, else from the suffix (a directory is ``folder``)."""
    if not path.exists():
        raise JobInputError(f"{path}: no such file or folder")
    if given:
        return given
    if path.is_dir():
        return "folder"
    found = _SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise JobInputError(
            f"{path}: cannot tell the format from the suffix {path.suffix!r}; pass --format "
            f"({', '.join(FORMATS)})"
        )
    return found


class Source:
    """A stream of rows from one file or folder; ``total`` is known for Parquet and
    folders, ``fraction_read()`` estimates progress for JSONL and CSV by bytes read."""

    def __init__(
        self,
        path: Path,
        fmt: str,
        columns: Sequence[str],
        text_column: str,
        string_columns: Sequence[str] = (),
    ) -> None:
        """Open and check the source; ``columns`` are the ones the job reads,
        ``string_columns`` those read as text whatever they look like (CSV)."""
        self.path = path
        self.string_columns = {text_column, *string_columns}
        self.format = fmt
        self.columns = list(dict.fromkeys(columns))
        self.text_column = text_column
        self.total: int | None = None
        self._file: BinaryIO | None = None
        self._size = 1
        if fmt == "folder":
            self._files = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_FILE_SUFFIXES
            )
            if not self._files:
                raise JobInputError(f"{path}: no text files ({', '.join(TEXT_FILE_SUFFIXES)})")
            self.total = len(self._files)
            self._check_columns(["text", "path", "modified"], "a folder's rows have")
        elif fmt == "parquet":
            self._parquet_check()
        elif fmt == "jsonl":
            self._json_schema = self._json_peek()
        elif fmt in ("csv", "tsv"):
            self._csv_open().close()  # reads the header: missing columns fail here
        else:
            raise JobInputError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")

    def fingerprint(self) -> dict[str, Any]:
        """What identifies this input for a checkpoint: path, size and mtime (for a folder,
        a digest over its files' relative paths, sizes and mtimes)."""
        if self.format == "folder":
            digest = hashlib.sha256()
            for file in self._files:
                stat = file.stat()
                digest.update(f"{file.relative_to(self.path)}\0{stat.st_size}\0".encode())
                digest.update(f"{stat.st_mtime_ns}\n".encode())
            return {"path": str(self.path), "files": len(self._files), "digest": digest.hexdigest()}
        stat = self.path.stat()
        return {"path": str(self.path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}

    def fraction_read(self) -> float | None:
        if self._file is None or self._file.closed:
            return None
        return min(self._file.tell() / self._size, 1.0)

    def rows(self, start: int = 0) -> Iterator[Row]:
        """Rows from number ``start`` on (earlier ones are skipped, without sending)."""
        if self.format == "folder":
            yield from self._folder_rows(start)
            return
        number, batches = self._batches(start)
        for batch in batches:
            for values in batch:
                if number >= start:
                    yield Row(number, values)
                number += 1

    # --- formats -------------------------------------------------------------------------

    def _check_columns(self, available: Sequence[str], where: str) -> None:
        missing = [c for c in self.columns if c not in available]
        if missing:
            raise JobInputError(
                f"{self.path}: no column {', '.join(map(repr, missing))}; {where}: "
                f"{', '.join(available) or 'none'}"
            )

    def _parquet_check(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(self.path)
        except (OSError, pa.ArrowException) as error:
            raise JobInputError(f"{self.path}: not a readable Parquet file ({error})") from error
        schema = parquet.schema_arrow
        self._check_columns(schema.names, "the file has")
        text_type = schema.field(self.text_column).type
        if pa.types.is_dictionary(text_type):
            text_type = text_type.value_type
        if not (pa.types.is_string(text_type) or pa.types.is_large_string(text_type)):
            raise JobInputError(
                f"{self.path}: column {self.text_column!r} holds {text_type}, not text"
            )
        self.total = parquet.metadata.num_rows

    def _json_peek(self) -> Any:
        """Types of the needed columns, inferred from the first block (pyarrow's JSON reader
        needs one type per column; a later row of another type is a bad file)."""
        import pyarrow as pa
        import pyarrow.json as pj

        try:
            with self.path.open("rb") as file:
                reader = pj.open_json(file, read_options=pj.ReadOptions(block_size=_BLOCK_BYTES))
                schema = reader.schema
        except (OSError, pa.ArrowException) as error:
            raise JobInputError(f"{self.path}: not readable as JSON lines ({error})") from error
        self._check_columns(schema.names, "its first rows have")
        text_type = schema.field(self.text_column).type
        if not (pa.types.is_string(text_type) or pa.types.is_null(text_type)):
            raise JobInputError(
                f"{self.path}: field {self.text_column!r} holds {text_type}, not text"
            )
        fields = []
        for name in self.columns:
            kind = schema.field(name).type
            fields.append(pa.field(name, pa.string() if pa.types.is_null(kind) else kind))
        return pa.schema(fields)

    def _csv_open(self) -> Any:
        import pyarrow as pa
        import pyarrow.csv as pc

        # Text-like columns stay strings (a column of digits is still text); others infer.
        strings = {name: pa.string() for name in self.columns if name in self.string_columns}
        try:
            self._file = self.path.open("rb")
            self._size = max(self.path.stat().st_size, 1)
            return pc.open_csv(
                self._file,
                read_options=pc.ReadOptions(block_size=_BLOCK_BYTES),
                parse_options=pc.ParseOptions(delimiter="\t" if self.format == "tsv" else ","),
                convert_options=pc.ConvertOptions(
                    column_types=strings, include_columns=self.columns
                ),
            )
        except (OSError, pa.ArrowException) as error:
            if self._file is not None:
                self._file.close()
            raise JobInputError(f"{self.path}: cannot read as {self.format} ({error})") from error

    def _batches(self, start: int) -> tuple[int, Iterator[list[dict[str, Any]]]]:
        """The number of the first row the batches hold, and the batches."""
        if self.format == "parquet":
            return self._parquet_batches(start)
        return 0, self._stream_batches()

    def _stream_batches(self) -> Iterator[list[dict[str, Any]]]:
        import pyarrow as pa

        if self.format == "jsonl":
            import pyarrow.json as pj

            self._file = self.path.open("rb")
            self._size = max(self.path.stat().st_size, 1)
            reader = pj.open_json(
                self._file,
                read_options=pj.ReadOptions(block_size=_BLOCK_BYTES),
                parse_options=pj.ParseOptions(
                    explicit_schema=self._json_schema, unexpected_field_behavior="ignore"
                ),
            )
        else:
            reader = self._csv_open()
        read = 0
        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except pa.ArrowException as error:
                    raise JobInputError(
                        f"{self.path}: bad data after row {read} ({error}); rows before it "
                        "were sent, and a --checkpoint run resumes from there once fixed"
                    ) from error
                read += batch.num_rows
                yield batch.to_pylist()
        finally:
            if self._file is not None:
                self._file.close()

    def _parquet_batches(self, start: int) -> tuple[int, Iterator[list[dict[str, Any]]]]:
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(self.path)
        skipped, groups = 0, list[int]()
        for index in range(parquet.num_row_groups):
            rows = parquet.metadata.row_group(index).num_rows
            if skipped + rows <= start and not groups:
                skipped += rows  # whole row groups before ``start`` are not even read
                continue
            groups.append(index)
        batches = parquet.iter_batches(batch_size=8192, row_groups=groups, columns=self.columns)
        return skipped, (batch.to_pylist() for batch in batches)

    def _folder_rows(self, start: int) -> Iterator[Row]:
        for number, file in enumerate(self._files):
            if number < start:
                continue
            relative = file.relative_to(self.path).as_posix()
            modified = datetime.fromtimestamp(file.stat().st_mtime, tz=UTC)
            try:
                text: str | None = file.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                text = None  # reported as a bad row by the ingest job
            yield Row(number, {"text": text, "path": relative, "modified": modified})
