"""SQL helpers every table write shares: the dialect's upsert, a WHERE over a list of values,
batches in slices, and a count of rows written that is true on both databases.

A statement's text never depends on how long a batch is (`one_of`, `power_of_two_slices`):
sqlite3 keeps up to 128 prepared statements per connection, and a multi-row `VALUES` or an `IN`
list of each new length was a new one of up to a megabyte (4,250 parameters, the search
index's triggers). A crawl whose batches varied in length grew by about 4 KB an article until
that cache was full (issue 15)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

T = TypeVar("T")


# One encoder for every JSON value of a batch: json.dumps(v, ensure_ascii=False) builds a new
# one per call, a tenth of the PostgreSQL writer's Python time for 750 values a batch.
JSON_ENCODER = json.JSONEncoder(ensure_ascii=False)


def insert_for(conn: Connection, table: Any) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (upserts)."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for database dialect {dialect!r}")


def one_of(conn: Connection, column: Any, values: Sequence[Any]) -> Iterable[Any]:
    """The WHERE clause matching `column` against `values` (none for no values), with one
    statement text whatever the count: on PostgreSQL `= ANY(array)` (psycopg prepares it once;
    an IN list of 250 parameters was parsed again on every batch), on SQLite
    `IN (SELECT value FROM json_each(?))` (one prepared statement, not one per list length)."""
    if not values:
        return
    if conn.dialect.name == "postgresql":
        yield column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
        return
    listed = func.json_each(bindparam(None, JSON_ENCODER.encode(list(values)))).table_valued("value")
    yield column.in_(select(listed.c.value))


def power_of_two_slices(rows: Sequence[T], largest: int = 128) -> Iterator[Sequence[T]]:
    """`rows` in consecutive slices whose lengths are powers of two, at most `largest` (250
    rows: 128, 64, 32, 16, 8, 2): a multi-row statement over them has one of eight texts,
    whatever the batch's length, where a slice of each length would be a new text."""
    start, size = 0, largest
    while start < len(rows):
        while size > len(rows) - start:
            size //= 2
        yield rows[start : start + size]
        start += size


def written(conn: Connection, statement: Any, rows: Sequence[dict[str, Any]], key: Any) -> int:
    """Execute an INSERT over `rows` and return how many rows it inserted or updated: on
    PostgreSQL by RETURNING `key` (its rowcount is no count for a multi-row statement), on
    SQLite by sqlite3's count of changed rows after one executemany of a one-row statement
    (a RETURNING there becomes a multi-row VALUES of each batch's length)."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        return len(conn.execute(statement.returning(key), rows).all())
    return int(conn.execute(statement, rows).rowcount)
