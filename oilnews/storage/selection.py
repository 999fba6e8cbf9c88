"""Which stored articles a read command asks for: one place for the filters that `search`,
`export` and the report share (published range, section, author, search words, changes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, func, literal_column, or_, select, text

from oilnews.storage.models import articles_table


@dataclass(frozen=True)
class Selection:
    since: datetime | None = None  # published at or after (UTC)
    until: datetime | None = None  # published before (UTC)
    section: str | None = None  # the section or any below it: "Energy" takes "Energy/Crude-Oil"
    author: str | None = None  # one of the article's authors, case-insensitive
    query: str | None = None  # all of these words (full-text search)
    changed_since: datetime | None = None  # new or changed content after this instant
    mentions: str | None = None  # a commodity, country or company the article mentions (any case)

    def clauses(self, conn: Connection) -> list[Any]:
        a = articles_table
        clauses: list[Any] = []
        if self.since is not None:
            clauses.append(a.c.published_at >= self.since)
        if self.until is not None:
            clauses.append(a.c.published_at < self.until)
        if self.section:
            section = self.section.strip("/")
            clauses.append(
                or_(a.c.section == section, a.c.section.like(section.replace("%", r"\%") + "/%", escape="\\"))
            )
        if self.changed_since is not None:
            clauses.append(a.c.changed_at > self.changed_since)
        if self.author:
            clauses.append(_has_author(conn, self.author))
        if self.query:
            clauses.append(_matches(conn, self.query))
        if self.mentions:
            clauses.append(_mentions(conn, self.mentions))
        return clauses


def _mentions(conn: Connection, name: str) -> Any:
    """The article names `name` among its commodities, countries or companies (a company also
    by its ticker): a key of one of those JSON objects, case-insensitive."""
    from oilnews.pages.mentions import tickers

    wanted = {name.lower()} | {
        company.lower() for company, t in tickers().items() if t.lower() == name.lower()
    }
    a = articles_table
    found = []
    for column in (a.c.commodities, a.c.countries, a.c.companies):
        if conn.dialect.name == "sqlite":
            element = func.json_each(column).table_valued("key")
        else:
            element = func.jsonb_each_text(column).table_valued("key", "value")
        found.append(
            exists(
                select(literal_column("1")).select_from(element).where(func.lower(element.c.key).in_(wanted))
            )
        )
    return or_(*found)


def _has_author(conn: Connection, name: str) -> Any:
    if conn.dialect.name == "sqlite":
        element = func.json_each(articles_table.c.authors).table_valued("value")
    else:
        element = func.jsonb_array_elements_text(articles_table.c.authors).table_valued("value")
    return exists(
        select(literal_column("1")).select_from(element).where(func.lower(element.c.value) == name.lower())
    )


def _matches(conn: Connection, query: str) -> Any:
    from oilnews.storage.search import postgres_match, sqlite_match

    if conn.dialect.name == "sqlite":
        return articles_table.c.id.in_(
            select(literal_column("rowid")).select_from(text("articles_fts")).where(sqlite_match(query))
        )
    vector, tsquery = postgres_match(query)
    return vector.op("@@")(tsquery)
