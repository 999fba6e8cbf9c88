"""What waits on disk when the database did not take a batch, and the write that isolates the
rows a database refuses.

Files of one JSON line each (a batch), written whole, in OILNEWS_SPOOL_DIR:

- `batch-<time>-<pid>.jsonl`, the *spool*: whole batches the database could not take because it was
  unreachable or unusable (an outage, a restart, a full disk). They are replayed at the next
  start, or as soon as writes work again in a watcher; upserts make a replay idempotent.
- `dead-<time>-<pid>.jsonl`, the *dead letters*: rows the database refused while it was up (a
  constraint, a type, a value too long: `refused`) or that the writer failed on (`bug`), each
  with its error. They never block a run; `oilnews spool` lists them and `oilnews spool replay`
  stores them once the database (or oilnews) accepts them.

A refused batch is split (oilnews.storage.refusals.write_isolating), so that every row the
database takes is stored in this run and only the refused ones become dead letters. Nothing here
touches the reactor: the store pipeline runs it all in the
database thread. Each file is written beside its place, fsynced and renamed into it
(storage.files), so a killed process leaves no half-written batch; a file of several lines
(from an older oilnews) is read line by line, and a line that is not whole is skipped, counted.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oilnews.dates import json_value
from oilnews.logs import first_line
from oilnews.storage.batch import Batch
from oilnews.storage.files import write_atomically
from oilnews.storage.refusals import Isolated, Transaction, refusal_kind, write_isolating

logger = logging.getLogger(__name__)


SPOOL_GLOB, DEAD_GLOB = "batch-*.jsonl", "dead-*.jsonl"


@dataclass
class Replayed:
    """What a replay of spooled lines did: stored, refused again (now dead letters, in
    `dead_letters`, one for each of `stored.refused`), skipped."""

    stored: Isolated = field(default_factory=Isolated)
    dead_letters: list[Path] = field(default_factory=list)
    items: int = 0
    lines: int = 0
    corrupt: int = 0


@dataclass
class Pending:
    """What waits in one kind of file: lines, items, the first error."""

    files: int = 0
    lines: int = 0
    items: int = 0
    corrupt: int = 0
    first_error: str | None = None
    first_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _write(self, kind: str, line: str) -> Path:
        """One file a batch, written whole (storage.files): named by when and by whom, so that
        sorted by name they replay in the order they were written."""
        path = self.directory / f"{kind}-{time.time_ns():020d}-{os.getpid()}.jsonl"
        data = (line + "\n").encode("utf-8")
        write_atomically(path, lambda stream: stream.write(data))
        return path

    def spool(self, batch: Batch, error: BaseException) -> Path:
        """A whole batch the database could not take now."""
        return self._write("batch", batch.dump(error=first_line(error), at=json_value(datetime.now(UTC))))

    def dead_letter(self, batch: Batch, error: BaseException, kind: str) -> Path:
        """Rows the database refused (`refused`) or the writer failed on (`bug`)."""
        return self._write(
            "dead", batch.dump(error=first_line(error), kind=kind, at=json_value(datetime.now(UTC)))
        )

    def store(
        self, batch: Batch, transaction: Transaction, max_versions_per_day: int = 0
    ) -> tuple[Isolated, list[Path]]:
        """`batch` written, split where the database refuses rows (write_isolating), and each
        refused row kept as a dead letter: what was stored and refused, and the dead letters'
        files, one for each refused row. An outage is raised (the caller spools the batch)."""
        outcome = write_isolating(transaction, batch, max_versions_per_day)
        paths = [self.dead_letter(rows, error, refusal_kind(error)) for rows, error in outcome.refused]
        return outcome, paths

    def files(self, pattern: str) -> list[Path]:
        return sorted(self.directory.glob(pattern)) if self.directory.is_dir() else []

    def claim(self, pattern: str) -> Iterator[tuple[Path, Path]]:
        """(file, claimed name) for each file of `pattern`: renamed first, so that one process
        replays a file, never two. The caller unlinks or renames the claimed file back."""
        for path in self.files(pattern):
            claimed = path.with_suffix(".replaying")
            try:
                path.rename(claimed)
            except OSError:
                continue
            yield path, claimed

    def pending(self, pattern: str) -> Pending:
        found = Pending()
        for path in self.files(pattern):
            found.files += 1
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    data = json.loads(line)
                except ValueError:
                    found.corrupt += 1
                    continue
                found.lines += 1
                found.items += sum(len(data.get(name, [])) for name in ("articles", "quotes", "aliases"))
                if found.first_error is None and data.get("error"):
                    found.first_error, found.first_at = data["error"], data.get("at")
        return found

    def replay(
        self, patterns: tuple[str, ...], transaction: Transaction, max_versions_per_day: int = 0
    ) -> Replayed:
        """The lines of the files of `patterns` written again, each like a batch (store): what
        the database takes is stored, what it refuses becomes a dead letter again, and the replay
        goes on. An outage or an unusable database puts the file being replayed back, for later,
        and is raised."""
        replayed = Replayed()
        for pattern in patterns:
            for path, claimed in self.claim(pattern):
                try:
                    for number, line in enumerate(claimed.read_text(encoding="utf-8").splitlines(), 1):
                        try:
                            batch = Batch.load(line)
                        except ValueError:
                            # a process killed while writing this line: nothing else is lost
                            logger.error("%s line %d is incomplete and was skipped", path, number)
                            replayed.corrupt += 1
                            continue
                        outcome, paths = self.store(batch, transaction, max_versions_per_day)
                        replayed.stored.results += outcome.results
                        replayed.stored.refused += outcome.refused
                        replayed.dead_letters += paths
                        replayed.items += len(batch)
                        replayed.lines += 1
                except BaseException:
                    claimed.rename(path)  # upserts make a second replay of the same lines harmless
                    raise
                claimed.unlink()
        return replayed
