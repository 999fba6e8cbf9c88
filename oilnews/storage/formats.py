"""The export formats, each a writer of rows in a table's column order: JSON lines (orjson,
ISO 8601 dates with their offset), CSV per RFC 4180 (CRLF, quoted where needed, lists joined
with " | "), Parquet through pyarrow in row groups (UTC timestamps, list columns); and Markdown,
a file an article in a directory."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol

from oilnews.dates import json_value
from oilnews.storage.tables import TableSpec

LIST_SEPARATOR = " | "


PARQUET_ROW_GROUP = 4_096  # rows buffered per row group: ~12 MiB of article text


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


# A cell a spreadsheet would run as a formula (OWASP "CSV injection"): text from a page that
# begins with one of these gets a leading apostrophe, which Excel and LibreOffice show as text.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def guard_formula(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_LEADS) else text


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return _csv_field(json.dumps(value, ensure_ascii=False))
    return _csv_field(guard_formula(value) if isinstance(value, str) else value)


def _csv_raw_cell(value: Any) -> str:
    if isinstance(value, str):
        return _csv_field(value)
    return _csv_cell(value)


def _csv_list(value: Any) -> str:
    return _csv_field(guard_formula(LIST_SEPARATOR.join(str(v) for v in value or ())))


def _csv_raw_list(value: Any) -> str:
    return _csv_field(LIST_SEPARATOR.join(str(v) for v in value or ()))


def _csv_time(value: Any) -> str:
    return "" if value is None else str(value.isoformat())


class _Csv:
    """RFC 4180; a text cell a spreadsheet would run as a formula gets a leading apostrophe."""

    raw = False

    def __init__(self, stream: IO[bytes], spec: TableSpec, fields: tuple[str, ...]) -> None:
        self.stream = stream
        cell, listed = (_csv_raw_cell, _csv_raw_list) if self.raw else (_csv_cell, _csv_list)
        self.picks = [
            (spec.columns.index(f), listed if f in spec.lists else _csv_time if f in spec.times else cell)
            for f in fields
        ]
        self._line([_csv_field(f) for f in fields])

    def _line(self, cells: list[str]) -> None:
        self.stream.write((",".join(cells) + "\r\n").encode("utf-8"))  # RFC 4180: CRLF

    def write(self, row: tuple[Any, ...]) -> None:
        self._line([convert(row[i]) for i, convert in self.picks])

    def close(self) -> None:
        pass


class _RawCsv(_Csv):
    """CSV with every cell exactly as stored, for programs rather than spreadsheets."""

    raw = True


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
        self.json_columns = {f for f in fields if f in spec.objects}  # JSON objects: as text
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


class Writer(Protocol):
    def write(self, row: tuple[Any, ...]) -> None: ...
    def close(self) -> None: ...


WRITERS: dict[str, Callable[[IO[bytes], TableSpec, tuple[str, ...]], Writer]] = {
    "jsonl": _JsonLines,
    "csv": _Csv,
    "csv-raw": _RawCsv,
    "parquet": _Parquet,
}


# --- Markdown: one file an article -----------------------------------------------------------
# What the front matter holds, in this order (YAML, which static-site, notes and retrieval tools read).
FRONT_MATTER = ("title", "url", "authors", "published_at", "section", "keywords", "description", "language")
MARKDOWN_NAME = re.compile(r"[^A-Za-z0-9-]+")


def markdown_name(article_id: int, url: str) -> str:
    """A file name that is stable across exports (the id) and readable (the URL's last part)."""
    stem = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".html")
    slug = MARKDOWN_NAME.sub("-", stem).strip("-")[:80] or "article"
    return f"{article_id}-{slug}.md"


def markdown_document(row: dict[str, Any]) -> bytes:
    """An article as Markdown with YAML front matter. Every value is a JSON string or list,
    which YAML reads as it is (JSON is YAML's flow style): page text can make no YAML, and the
    title is escaped for the Markdown heading."""
    from oilnews.pages.markdown import escape

    lines = ["---"]
    for name in FRONT_MATTER:
        value = row.get(name)
        if value is None or value == [] or value == "":
            continue
        key = "tags" if name == "keywords" else name
        lines.append(f"{key}: {json.dumps(json_value(value), ensure_ascii=True)}")
    lines += ["---", "", f"# {escape(str(row.get('title') or ''))}", ""]
    body = row.get("body_markdown") or escape(str(row.get("body") or ""))  # stored before 0008: the text
    return ("\n".join(lines) + "\n" + body.rstrip("\n") + "\n").encode("utf-8")


class MarkdownFiles:
    """`--format markdown --out DIR`: a .md file an article in DIR, each written whole (an
    interrupted export leaves complete files only; a later export rewrites an article's file)."""

    def __init__(self, directory: Path, spec: TableSpec) -> None:
        self.directory = directory
        self.columns = spec.columns
        directory.mkdir(parents=True, exist_ok=True)

    def write(self, row: tuple[Any, ...]) -> None:
        from oilnews.storage.files import write_atomically

        record = dict(zip(self.columns, row, strict=True))
        document = markdown_document(record)
        write_atomically(
            self.directory / markdown_name(record["id"], record["url"]), lambda s: s.write(document)
        )

    def close(self) -> None:
        pass
