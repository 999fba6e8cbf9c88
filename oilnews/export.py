"""`oilnews export`: stored rows out as JSON lines, CSV or Parquet, streamed in constant memory.

Rows are read with a streaming cursor (`stream_results`, `yield_per`: a server-side cursor on
PostgreSQL) and written as they come: JSON lines with ISO 8601 dates, CSV per RFC 4180 (CRLF,
quoted where needed, lists joined with " | "), Parquet through pyarrow in row groups (UTC
timestamps, list columns for authors, keywords and summary). A file output is written beside
its target and renamed into place only when complete: a failed export leaves no partial file.

A bookmark (`--bookmark FILE`) lets a downstream job take only what is new or changed since its
last export: it holds the newest `changed_at` exported and the rows exported in the minutes
before it (a batch that committed late, with an earlier timestamp, is still caught, and a row
is never exported twice for one change). It is written only after a complete export.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy import Connection, Select, func, select

from oilnews.dates import json_value, parse_iso
from oilnews.errors import UsageError
from oilnews.storage.models import (
    article_authors_table,
    articles_table,
    authors_table,
    links_table,
    quotes_table,
    runs_table,
)
from oilnews.storage.selection import Selection
from oilnews.storage.writer import ARTICLE_FIELDS

LIST_SEPARATOR = " | "
# How far before the bookmark's newest change an export looks again (late commits).
BOOKMARK_OVERLAP = timedelta(minutes=10)
YIELD_PER = 2_000
PARQUET_ROW_GROUP = 4_096  # rows buffered per row group: ~12 MiB of article text


@dataclass(frozen=True)
class TableSpec:
    """An exportable table: its columns in order, which are lists, which are timestamps, and
    the statement that reads them (filters applied)."""

    columns: tuple[str, ...]
    lists: frozenset[str]
    times: frozenset[str]
    statement: Callable[[Connection, Selection], Select[Any]]


def _articles(conn: Connection, selection: Selection) -> Select[Any]:
    a = articles_table
    columns = [a.c[name] for name in ARTICLE_COLUMNS]
    return select(*columns).where(*selection.clauses(conn)).order_by(a.c.id)


def _links(conn: Connection, selection: Selection) -> Select[Any]:
    a, link = articles_table, links_table
    return (
        select(a.c.url.label("article_url"), link.c.kind, link.c.target_url, link.c.anchor_text)
        .join(a, a.c.id == link.c.article_id)
        .where(*selection.clauses(conn))
        .order_by(link.c.id)
    )


def _quotes(conn: Connection, selection: Selection) -> Select[Any]:
    q = quotes_table
    statement = select(*(q.c[name] for name in QUOTE_COLUMNS)).order_by(q.c.observed_at, q.c.blend_id)
    if selection.since is not None:
        statement = statement.where(q.c.observed_at >= selection.since)
    if selection.until is not None:
        statement = statement.where(q.c.observed_at < selection.until)
    return statement


def _runs(conn: Connection, selection: Selection) -> Select[Any]:
    r = runs_table
    return select(*(r.c[name] for name in RUN_COLUMNS)).order_by(r.c.id)


def _authors(conn: Connection, selection: Selection) -> Select[Any]:
    au, link = authors_table, article_authors_table
    articles = select(func.count()).where(link.c.author_id == au.c.id).scalar_subquery()
    return select(*(au.c[name] for name in AUTHOR_COLUMNS[:-1]), articles.label("articles")).order_by(au.c.id)


# The stored article (the writer's fields) and what the database adds to it.
ARTICLE_COLUMNS = ("id", *ARTICLE_FIELDS, "version", "first_seen_at", "last_seen_at", "changed_at")
QUOTE_COLUMNS = (
    "blend_id",
    "name",
    "price",
    "change",
    "change_percent",
    "observed_at",
    "source",
    "fetched_at",
)
RUN_COLUMNS = (
    "id",
    "spider",
    "site_url",
    "started_at",
    "finished_at",
    "status",
    "finish_reason",
    "run_group",
    "worker",
    "counts",
    "health",
)
AUTHOR_COLUMNS = ("id", "profile_url", "name", "bio", "avatar_url", "updated_at", "articles")

TABLES: dict[str, TableSpec] = {
    "articles": TableSpec(
        ARTICLE_COLUMNS,
        frozenset({"authors", "keywords", "summary"}),
        frozenset({"published_at", "modified_at", "first_seen_at", "last_seen_at", "changed_at"}),
        _articles,
    ),
    "links": TableSpec(
        ("article_url", "kind", "target_url", "anchor_text"), frozenset(), frozenset(), _links
    ),
    "quotes": TableSpec(QUOTE_COLUMNS, frozenset(), frozenset({"observed_at", "fetched_at"}), _quotes),
    "runs": TableSpec(RUN_COLUMNS, frozenset(), frozenset({"started_at", "finished_at"}), _runs),
    "authors": TableSpec(AUTHOR_COLUMNS, frozenset(), frozenset({"updated_at"}), _authors),
}


@dataclass
class ExportResult:
    rows: int
    seconds: float


# --- bookmark -------------------------------------------------------------------------------
def read_bookmark(path: Path) -> tuple[datetime | None, set[tuple[int, str]]]:
    """(the newest change exported last time, the (id, changed_at) pairs exported near it)."""
    if not path.exists():
        return None, set()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        newest = parse_iso(data["changed_at"]) if data.get("changed_at") else None
        seen = {(int(i), str(t)) for i, t in data.get("recent", [])}
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(
            f"--bookmark {path}: not an oilnews bookmark ({error}); remove it to export everything"
        ) from None
    return newest, seen


def _write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in path.parent.glob(f".{path.name}.*.partial"):
        leftover.unlink(missing_ok=True)  # what a killed export left: never the target itself
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- writers --------------------------------------------------------------------------------
# Each writer takes rows as tuples in the table's column order and picks `fields` by index;
# converters are chosen once per column, not per cell (an export is rows x columns calls).
class _JsonLines:
    """orjson: UTF-8 out, RFC 3339 datetimes with their offset, several times json's speed."""

    def __init__(self, stream: IO[bytes], spec: TableSpec, fields: tuple[str, ...]) -> None:
        import orjson

        self.stream = stream
        self.picks = [(spec.columns.index(f), f) for f in fields]
        self.dumps = orjson.dumps
        self.options = orjson.OPT_APPEND_NEWLINE

    def write(self, row: tuple[Any, ...]) -> None:
        self.stream.write(self.dumps({name: row[i] for i, name in self.picks}, option=self.options))

    def close(self) -> None:
        pass


def _csv_field(value: Any) -> str:
    """One RFC 4180 field: quoted when it holds a quote, comma or line break, quotes doubled.
    (Written out rather than csv.writer: that walks every character, and a 3 KiB body made
    it the export's bottleneck, a dozen times slower than these string searches.)"""
    text = value if isinstance(value, str) else str(value)
    if '"' in text or "," in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return _csv_field(json.dumps(value, ensure_ascii=False))
    return _csv_field(value)


def _csv_list(value: Any) -> str:
    return _csv_field(LIST_SEPARATOR.join(str(v) for v in value or ()))


def _csv_time(value: Any) -> str:
    return "" if value is None else str(value.isoformat())


class _Csv:
    def __init__(self, stream: IO[bytes], spec: TableSpec, fields: tuple[str, ...]) -> None:
        self.stream = stream
        self.picks = [
            (
                spec.columns.index(f),
                _csv_list if f in spec.lists else _csv_time if f in spec.times else _csv_cell,
            )
            for f in fields
        ]
        self._line([_csv_field(f) for f in fields])

    def _line(self, cells: list[str]) -> None:
        self.stream.write((",".join(cells) + "\r\n").encode("utf-8"))  # RFC 4180: CRLF

    def write(self, row: tuple[Any, ...]) -> None:
        self._line([convert(row[i]) for i, convert in self.picks])

    def close(self) -> None:
        pass


class _Parquet:
    def __init__(self, stream: IO[bytes], spec: TableSpec, fields: tuple[str, ...]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.picks = [(spec.columns.index(f), f) for f in fields]
        self.schema = pa.schema([pa.field(name, self._type(spec, name)) for name in fields])
        self.writer = pq.ParquetWriter(
            stream, self.schema, compression="snappy"
        )  # the format's usual default: fast
        self.json_columns = {f for f in fields if f in ("counts", "health")}  # runs' JSON: as text
        self.buffer: list[tuple[Any, ...]] = []

    def _type(self, spec: TableSpec, name: str) -> Any:
        pa = self.pa
        if name in spec.lists:
            return pa.list_(pa.string())
        if name in spec.times:
            return pa.timestamp("us", tz="UTC")
        return {
            "id": pa.int64(),
            "blend_id": pa.int64(),
            "version": pa.int64(),
            "articles": pa.int64(),
            "price": pa.float64(),
            "change": pa.float64(),
            "change_percent": pa.float64(),
            "is_premium": pa.bool_(),
        }.get(name, pa.string())

    def write(self, row: tuple[Any, ...]) -> None:
        self.buffer.append(row)
        if len(self.buffer) >= PARQUET_ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        # Column by column (pyarrow builds each array in one call), not row dicts.
        if not self.buffer:
            return
        arrays = []
        for (index, name), field in zip(self.picks, self.schema, strict=True):
            values = [row[index] for row in self.buffer]
            if name in self.json_columns:
                values = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
            arrays.append(self.pa.array(values, type=field.type))
        self.writer.write_table(self.pa.Table.from_arrays(arrays, schema=self.schema))
        self.buffer = []

    def close(self) -> None:
        self._flush()
        self.writer.close()


class _Writer(Protocol):
    def write(self, row: tuple[Any, ...]) -> None: ...
    def close(self) -> None: ...


WRITERS: dict[str, Callable[[IO[bytes], TableSpec, tuple[str, ...]], _Writer]] = {
    "jsonl": _JsonLines,
    "csv": _Csv,
    "parquet": _Parquet,
}


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

    def write(stream: IO[bytes]) -> None:
        writer = WRITERS[fmt](stream, spec, fields)
        for record in rows():
            writer.write(record)
            state["rows"] += 1
            counter.update(state["rows"])
        writer.close()

    if out is None:
        target = stdout or sys.stdout.buffer
        write(target)
        target.flush()
    else:
        _write_atomically(out, write)
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
        data = {
            "table": table,
            "changed_at": json_value(newest),
            "recent": sorted(recent),
            "written_at": json_value(datetime.now(UTC)),
        }
        payload = json.dumps(data, indent=1).encode("utf-8")

        def write_bookmark(stream: IO[bytes]) -> None:
            stream.write(payload)

        _write_atomically(bookmark, write_bookmark)  # only after a complete export
    return result
