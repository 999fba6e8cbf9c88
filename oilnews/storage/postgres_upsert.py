"""PostgreSQL's article upsert: the batch as column arrays in psycopg's binary format,
unnested into one INSERT ... ON CONFLICT DO UPDATE."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from oilnews.storage.models import (
    UPDATED_ON_CONFLICT,
    UPSERT_COLUMNS,
    UTCDateTime,
    articles_table,
)
from oilnews.storage.sql import JSON_ENCODER

# PostgreSQL array types of the columns that are not text, for the unnest() upsert.
_ARRAY_TYPES = {
    "authors": "jsonb",
    "keywords": "jsonb",
    "summary": "jsonb",
    "images": "jsonb",
    "commodities": "jsonb",
    "countries": "jsonb",
    "companies": "jsonb",
    "published_at": "timestamptz",
    "modified_at": "timestamptz",
    "first_seen_at": "timestamptz",
    "last_seen_at": "timestamptz",
    "changed_at": "timestamptz",
    "is_premium": "boolean",
    "version": "integer",
}


def upsert_postgres(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """The batch's articles in one INSERT ... SELECT FROM unnest(column arrays) ON CONFLICT
    DO UPDATE: one statement and one round trip where an executemany pipelines 250, and no
    SQLAlchemy parameter processing per row (measured here: 1.18 s against 1.28 s for 5,000
    articles in batches of 250). The arrays go in psycopg's binary format (%b): quoting them
    as text literals took 0.7 s of those 5,000 articles' 2.0 s."""
    dialect = conn.dialect
    utc = UTCDateTime()
    columns: list[list[Any]] = []
    for name in UPSERT_COLUMNS:
        kind = _ARRAY_TYPES.get(name, "text")
        values = [row.get(name) for row in rows]
        if kind == "jsonb":
            values = [None if v is None else JSON_ENCODER.encode(v) for v in values]
        elif kind == "timestamptz":
            values = [utc.process_bind_param(v, dialect) for v in values]
        columns.append(values)
    arrays = ", ".join(f"%b::{_ARRAY_TYPES.get(name, 'text')}[]" for name in UPSERT_COLUMNS)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in UPDATED_ON_CONFLICT)
    conn.exec_driver_sql(
        f"INSERT INTO {articles_table.name} ({', '.join(UPSERT_COLUMNS)}) "
        f"SELECT * FROM unnest({arrays}) ON CONFLICT (url) DO UPDATE SET {updates}",
        tuple(columns),
    )
