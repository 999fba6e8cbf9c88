"""The tables `oilnews export` reads: each one's columns in order, which of them are lists or
timestamps, the statement that reads them, and the filters that statement honours."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, func, select

from oilnews.storage.models import (
    ARTICLE_FIELDS,
    article_authors_table,
    articles_table,
    authors_table,
    links_table,
    quotes_table,
    runs_table,
)
from oilnews.storage.selection import Selection


@dataclass(frozen=True)
class TableSpec:
    """An exportable table: its columns in order, which are lists, which are timestamps, the
    statement that reads them, and which of a Selection's filters that statement applies."""

    columns: tuple[str, ...]
    lists: frozenset[str]
    times: frozenset[str]
    statement: Callable[[Connection, Selection], Select[Any]]
    filters: tuple[str, ...] = ()
    objects: frozenset[str] = frozenset()  # JSON objects or lists of them: JSON text in CSV and Parquet


# A Selection's filters: every one applies where the rows belong to articles.
ARTICLE_FILTERS = ("since", "until", "section", "author", "query", "changed_since", "mentions")


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
        ARTICLE_FILTERS,
        frozenset({"images", "commodities", "countries", "companies"}),
    ),
    "links": TableSpec(
        ("article_url", "kind", "target_url", "anchor_text"),
        frozenset(),
        frozenset(),
        _links,
        ARTICLE_FILTERS,
    ),
    # The time window, on when a quote was observed.
    "quotes": TableSpec(
        QUOTE_COLUMNS, frozenset(), frozenset({"observed_at", "fetched_at"}), _quotes, ("since", "until")
    ),
    "runs": TableSpec(
        RUN_COLUMNS,
        frozenset(),
        frozenset({"started_at", "finished_at"}),
        _runs,
        objects=frozenset({"counts", "health"}),
    ),
    "authors": TableSpec(AUTHOR_COLUMNS, frozenset(), frozenset({"updated_at"}), _authors),
}
