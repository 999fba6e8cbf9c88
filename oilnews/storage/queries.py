"""What incremental crawling reads from the database: at start, and the URLs a crawl meets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from oilnews.dates import utc_from_db
from oilnews.storage.models import aliases_table, articles_table, quotes_table, runs_table
from oilnews.storage.sql import one_of


class KnownArticle:
    """What incremental crawling knows of one stored URL. The two timestamps are kept as the
    driver gave them and read on use: a run looks at a few hundred of 100,000, and turning
    every one into a datetime up front took two thirds of loading them (issue 15)."""

    __slots__ = ("_last_seen_at", "_published_at", "alias_of", "content_hash")

    def __init__(
        self, content_hash: str, published_at: Any, last_seen_at: Any, alias_of: str | None = None
    ) -> None:
        self.content_hash = content_hash
        self._published_at = published_at
        self._last_seen_at = last_seen_at
        self.alias_of = alias_of  # set for an alias URL: the article it belongs to

    @property
    def published_at(self) -> datetime | None:
        return utc_from_db(self._published_at)

    @property
    def last_seen_at(self) -> datetime | None:
        return utc_from_db(self._last_seen_at)


def known_articles(conn: Connection, urls: Sequence[str] | None = None) -> dict[str, KnownArticle]:
    """The stored article URLs and alias URLs among `urls` (every one: None), with what
    incremental crawling needs."""
    # Straight to the driver when reading them all: SQLAlchemy's result processing of 100,000
    # rows cost more than the query. The column names are the models'; a renamed one fails
    # every incremental test.
    a, al = articles_table, aliases_table
    if urls is None:
        rows: Iterable[Any] = conn.exec_driver_sql(
            f"SELECT url, content_hash, published_at, last_seen_at FROM {a.name}"
        )
        alias_rows: Iterable[Any] = conn.exec_driver_sql(
            f"SELECT {al.name}.url, {a.name}.content_hash, {a.name}.published_at, {a.name}.last_seen_at, "
            f"{a.name}.url FROM {al.name} JOIN {a.name} ON {a.name}.id = {al.name}.article_id"
        )
    else:
        state = (a.c.content_hash, a.c.published_at, a.c.last_seen_at)
        rows = [
            row
            for where in one_of(conn, a.c.url, urls)
            for row in conn.execute(select(a.c.url, *state).where(where))
        ]
        alias_rows = [
            row
            for where in one_of(conn, al.c.url, urls)
            for row in conn.execute(
                select(al.c.url, *state, a.c.url).join(a, a.c.id == al.c.article_id).where(where)
            )
        ]
    known = {url: KnownArticle(digest, published, seen) for url, digest, published, seen in rows}
    for alias, digest, published, seen, article_url in alias_rows:
        known[alias] = KnownArticle(digest, published, seen, article_url)
    return known


def anything_stored(conn: Connection) -> bool:
    """Whether any article is stored: into an empty database, no URL needs looking up."""
    return conn.execute(select(articles_table.c.id).limit(1)).first() is not None


def completed_watermark(conn: Connection) -> datetime | None:
    """Newest publication date stored by the last crawl that walked to its end.

    Listing pagination may stop at articles no newer than this: a killed run's articles
    are newer than it, so the crawl after a kill still walks down to where the last
    complete run left off (no gap).
    """
    r = runs_table
    last_complete = conn.execute(
        select(r.c.finished_at)
        .where(r.c.finish_reason == "finished")
        .order_by(r.c.finished_at.desc())
        .limit(1)
    ).scalar()
    if last_complete is None:
        return None
    a = articles_table
    newest: datetime | None = conn.execute(
        select(a.c.published_at)
        .where(a.c.first_seen_at <= last_complete)
        .order_by(a.c.published_at.desc())
        .limit(1)
    ).scalar()
    return newest


def last_chart_fetch(conn: Connection) -> datetime | None:
    """When the rendered price chart was last stored: it need not be fetched every run."""
    q = quotes_table
    latest: datetime | None = conn.execute(
        select(q.c.fetched_at).where(q.c.source == "chart").order_by(q.c.fetched_at.desc()).limit(1)
    ).scalar()
    return latest
