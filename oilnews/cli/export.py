"""`oilnews export`: stored rows out as JSON lines, CSV or Parquet, streamed in constant memory.

Rows are read with a streaming cursor (`stream_results`, `yield_per`: a server-side cursor on
PostgreSQL) and written as they come by the writers of oilnews.storage.formats. A file output
is written beside its target and renamed into place only when complete
(oilnews.storage.files): a failed export leaves no partial file.

A bookmark (`--bookmark FILE`) lets a downstream job take only what is new or changed since its
last export: it holds the newest `changed_at` exported and the rows exported in the minutes
before it (a batch that committed late, with an earlier timestamp, is still caught, and a row
is never exported twice for one change). It is written only after a complete export.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, func, select

from oilnews.cli import add_db, add_filters, reading, selection_of
from oilnews.dates import json_value, parse_iso
from oilnews.errors import ExitCode, UsageError
from oilnews.storage.files import write_atomically
from oilnews.storage.formats import WRITERS, MarkdownFiles, Writer
from oilnews.storage.selection import Selection
from oilnews.storage.tables import ARTICLE_FILTERS, TABLES

# How far before the bookmark's newest change an export looks again (late commits).
BOOKMARK_OVERLAP = timedelta(minutes=10)


YIELD_PER = 2_000


@dataclass
class ExportResult:
    rows: int
    seconds: float


# --- bookmark -------------------------------------------------------------------------------
# A bookmark is a high-water mark: the newest change exported, and which articles of the overlap
# before it were exported (so a late commit there is taken, the rest not twice). Those are kept
# as id ranges per changed_at: a batch's articles share one changed_at and mostly run in id
# order, so a crawl of 5,000 articles is 21 entries, not 5,000 pairs.
def _ranges(ids: list[int]) -> list[list[int]]:
    ranges: list[list[int]] = []
    for article_id in sorted(set(ids)):
        if ranges and article_id == ranges[-1][1] + 1:
            ranges[-1][1] = article_id
        else:
            ranges.append([article_id, article_id])
    return ranges


def _pairs(recent: Any) -> set[tuple[int, str]]:
    if isinstance(recent, list):  # the format before ranges: [[id, changed_at], ...]
        return {(int(i), str(t)) for i, t in recent}
    return {
        (i, str(t))
        for t, spans in recent.items()
        for low, high in spans
        for i in range(int(low), int(high) + 1)
    }


def read_bookmark(path: Path) -> tuple[datetime | None, set[tuple[int, str]]]:
    """(the newest change exported last time, the (id, changed_at) pairs exported near it)."""
    if not path.exists():
        return None, set()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        newest = parse_iso(data["changed_at"]) if data.get("changed_at") else None
        seen = _pairs(data.get("recent", {}))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise UsageError(
            f"--bookmark {path}: not an oilnews bookmark ({error}); remove it to export everything"
        ) from None
    return newest, seen


class _Progress:
    """A bar on a terminal (stderr), redrawn at most every half second; nothing elsewhere."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        self.total, self.enabled = total, enabled and sys.stderr.isatty()
        self.started = self.drawn = time.monotonic()

    def update(self, done: int) -> None:
        if not self.enabled or done % 256:  # per row, so the common case costs one test
            return
        if time.monotonic() - self.drawn >= 0.5:
            self._draw(done)

    def _draw(self, done: int) -> None:
        now = self.drawn = time.monotonic()
        rate = done / max(now - self.started, 1e-9)
        if self.total:
            filled = int(30 * done / self.total)
            sys.stderr.write(
                f"\r[{'#' * filled}{' ' * (30 - filled)}] {done}/{self.total} rows, {rate:,.0f}/s"
            )
        else:
            sys.stderr.write(f"\r{done} rows, {rate:,.0f}/s")
        sys.stderr.flush()

    def finish(self, done: int) -> None:
        if self.enabled:
            self._draw(done)  # the final count, however short the export was
            sys.stderr.write("\n")


def export(
    conn: Connection,
    table: str,
    fmt: str,
    out: Path | None,
    selection: Selection,
    fields: tuple[str, ...] | None = None,
    bookmark: Path | None = None,
    progress: bool = True,
    stdout: IO[bytes] | None = None,
) -> ExportResult:
    """Write the rows of `table` that `selection` picks to `out` (or `stdout`)."""
    spec = TABLES[table]
    fields = fields or spec.columns
    unknown = [f for f in fields if f not in spec.columns]
    if unknown:
        raise UsageError(
            f"--fields: {', '.join(unknown)} not in {table} (its fields: {', '.join(spec.columns)})"
        )
    if fmt == "parquet" and out is None:
        raise UsageError("--format parquet needs --out FILE (Parquet is not a stream)")
    if fmt == "markdown" and (out is None or table != "articles" or fields != spec.columns):
        raise UsageError(
            "--format markdown writes a file an article: it needs --out DIR and --table articles, "
            "and takes no --fields"
        )
    if fmt == "markdown" and out is not None and out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: not a directory (--format markdown writes a file an article there)")
    seen: set[tuple[int, str]] = set()
    previous_newest: datetime | None = None
    if bookmark is not None:
        if table != "articles":
            raise UsageError("--bookmark works with --table articles")
        previous_newest, seen = read_bookmark(bookmark)
        if previous_newest is not None:
            since = previous_newest - BOOKMARK_OVERLAP
            if selection.changed_since is None or selection.changed_since < since:  # the later wins
                selection = dataclasses.replace(selection, changed_since=since)
    statement = spec.statement(conn, selection)
    started = time.monotonic()
    counter = _Progress(None, progress)
    if counter.enabled:  # the bar's total costs a count: only on a terminal
        counter.total = conn.execute(
            select(func.count()).select_from(statement.order_by(None).subquery())
        ).scalar()
    reader = conn.execution_options(stream_results=True, yield_per=YIELD_PER).execute(statement)
    id_index = spec.columns.index("id") if bookmark is not None else 0
    changed_index = spec.columns.index("changed_at") if bookmark is not None else 0
    state: dict[str, Any] = {"rows": 0, "newest": None, "recent": []}

    def rows() -> Iterator[tuple[Any, ...]]:
        for row in reader:
            if bookmark is not None:
                article_id, changed = row[id_index], row[changed_index]
                if (article_id, json_value(changed)) in seen:
                    continue  # exported last time already, unchanged since
                state["recent"].append((article_id, changed))
                if state["newest"] is None or changed > state["newest"]:
                    state["newest"] = changed
            yield row  # a Row is a tuple: indexed as it is

    def write_rows(writer: Writer) -> None:
        for record in rows():
            writer.write(record)
            state["rows"] += 1
            counter.update(state["rows"])
        writer.close()

    def write(stream: IO[bytes]) -> None:
        write_rows(WRITERS[fmt](stream, spec, fields))

    if fmt == "markdown" and out is not None:
        write_rows(MarkdownFiles(out, spec))  # a file an article, each written whole
    elif out is None:
        target = stdout or sys.stdout.buffer
        write(target)
        target.flush()
    else:
        write_atomically(out, write)
    counter.finish(state["rows"])
    result = ExportResult(state["rows"], time.monotonic() - started)
    if bookmark is not None:
        known = [t for t in (state["newest"], previous_newest) if t is not None]
        newest = max(known) if known else None
        keep_after = newest - BOOKMARK_OVERLAP if newest is not None else None

        def near_newest(stamp: datetime | None) -> bool:
            return keep_after is None or stamp is None or stamp > keep_after

        recent = {(i, json_value(t)) for i, t in state["recent"] if near_newest(t)}
        recent |= {pair for pair in seen if near_newest(parse_iso(pair[1]))}
        by_change: dict[str, list[int]] = {}
        for article_id, stamp in recent:
            by_change.setdefault(stamp, []).append(article_id)
        data = {
            "table": table,
            "changed_at": json_value(newest),
            "recent": {stamp: _ranges(ids) for stamp, ids in sorted(by_change.items())},
            "written_at": json_value(datetime.now(UTC)),
        }
        payload = json.dumps(data, indent=1).encode("utf-8")

        def write_bookmark(stream: IO[bytes]) -> None:
            stream.write(payload)

        write_atomically(bookmark, write_bookmark)  # only after a complete export
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db(parser)
    parser.add_argument(
        "--format",
        choices=("jsonl", "csv", "csv-raw", "parquet", "markdown"),
        default="jsonl",
        help="(default: jsonl); csv puts an apostrophe before a text cell a spreadsheet would run as a "
        "formula (=, +, -, @, tab or CR first); csv-raw writes every cell as stored, for programs; "
        "markdown writes one .md file an article (YAML front matter) into the --out directory",
    )
    parser.add_argument(
        "--out", help="file to write (default: standard output; Parquet needs a file, markdown a directory)"
    )
    parser.add_argument(
        "--table", default="articles", help="articles (default), links, quotes, runs or authors"
    )
    add_filters(parser)
    parser.add_argument("--query", help="only articles matching these words, search's syntax (default: all)")
    parser.add_argument("--fields", help="comma-separated fields to write, in this order (default: all)")
    parser.add_argument(
        "--changed-since", help="only articles new or changed after this instant (UTC; default: any)"
    )
    parser.add_argument(
        "--bookmark",
        help="file remembering the last export: only what is new or changed since (default: none, all)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.table not in TABLES:
        raise UsageError(f"--table {args.table!r}: one of {', '.join(TABLES)}")
    honoured = TABLES[args.table].filters
    ignored = [f for f in ARTICLE_FILTERS if getattr(args, f, None) and f not in honoured]
    if ignored:
        options = ", ".join("--" + f.replace("_", "-") for f in ignored)
        takes = ", ".join("--" + f.replace("_", "-") for f in honoured) or "none"
        raise UsageError(f"{options} do not apply to --table {args.table} (its filters: {takes})")
    selection = selection_of(args)
    if args.out == "-":
        args.out = None  # `-` is standard output, as for every Unix tool
    fields = tuple(f.strip() for f in args.fields.split(",") if f.strip()) if args.fields else None
    # One connection, not a retried transaction: the export streams from a server-side cursor.
    with reading(args) as database, database.engine.connect() as conn:
        result = export(
            conn,
            args.table,
            args.format,
            Path(args.out) if args.out else None,
            selection,
            fields=fields,
            bookmark=Path(args.bookmark) if args.bookmark else None,
        )
    if args.out:
        print(
            f"oilnews: exported {result.rows} rows of {args.table} to {args.out} in {result.seconds:.1f}s",
            file=sys.stderr,
        )
    return ExitCode.OK
