"""What incremental crawling reads from the database before a crawl starts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from oilnews.storage.models import aliases_table, articles_table, quotes_table, runs_table


def _instant(value: Any) -> datetime | None:
    """A timestamp as the driver returned it (SQLite: text; PostgreSQL: datetime), in UTC."""
    if value is None:
        return None
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


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
        return _instant(self._published_at)

    @property
    def last_seen_at(self) -> datetime | None:
        return _instant(self._last_seen_at)


def known_articles(conn: Connection) -> dict[str, KnownArticle]:
    """Every stored article URL and alias URL, with what incremental crawling needs."""
    # Straight to the driver: SQLAlchemy's result processing of 100,000 rows cost more than the
    # query. The column names are the models'; a renamed one fails every incremental test.
    a, al = articles_table.name, aliases_table.name
    known = {
        url: KnownArticle(digest, published, seen)
        for url, digest, published, seen in conn.exec_driver_sql(
            f"SELECT url, content_hash, published_at, last_seen_at FROM {a}"
        )
    }
    aliases = conn.exec_driver_sql(
        f"SELECT {al}.url, {a}.content_hash, {a}.published_at, {a}.last_seen_at, {a}.url "
        f"FROM {al} JOIN {a} ON {a}.id = {al}.article_id"
    )
    for alias, digest, published, seen, article_url in aliases:
        known[alias] = KnownArticle(digest, published, seen, article_url)
    return known


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
