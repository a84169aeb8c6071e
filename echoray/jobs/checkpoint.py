"""The ingest job's checkpoint (jobs layer): which input, with which options, and how many
of its rows the server has acknowledged. Written atomically after every acknowledged
batch, so a crash leaves the last good state; rows after it are sent again on restart,
and their deterministic ids make the server answer them as already present.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from echoray.jobs.progress import JobInputError, write_json_atomic

VERSION = 1
COUNTS = ("read", "inserted", "existing", "rejected")


@dataclass
class Checkpoint:
    path: Path | None
    source: dict[str, Any]
    options: dict[str, Any]
    rows_done: int = 0
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    complete: bool = False

    @classmethod
    def open(cls, path: Path | None, source: dict[str, Any], options: dict[str, Any]) -> Checkpoint:
        """The checkpoint at ``path`` if it is for this input and these options, a fresh
        one if the file does not exist (or no path is given).

        Raises:
            JobInputError: the file is unreadable, or records another input or options.
        """
        if path is None or not path.exists():
            return cls(path, source, options)
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            version, rows_done = saved["version"], int(saved["rows_done"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise JobInputError(f"checkpoint {path} is unreadable ({error}); delete it") from error
        if version != VERSION:
            raise JobInputError(f"checkpoint {path} has version {version}, expected {VERSION}")
        for what, now in (("source", source), ("options", options)):
            if saved.get(what) != now:
                raise JobInputError(
                    f"checkpoint {path} is for another {what}: {saved.get(what)} (now {now}); "
                    "delete it to start over, or pass another --checkpoint"
                )
        totals = {name: int(saved.get("totals", {}).get(name, 0)) for name in COUNTS}
        return cls(path, source, options, rows_done, totals, bool(saved.get("complete")))

    def advance(self, rows_done: int, counts: dict[str, int], *, complete: bool = False) -> None:
        """Record acknowledged rows and write the file (when there is one)."""
        self.rows_done = rows_done
        for name in COUNTS:
            self.totals[name] += counts.get(name, 0)
        self.complete = complete
        if self.path is not None:
            write_json_atomic(
                self.path,
                {
                    "version": VERSION,
                    "source": self.source,
                    "options": self.options,
                    "rows_done": self.rows_done,
                    "totals": self.totals,
                    "complete": self.complete,
                },
            )
