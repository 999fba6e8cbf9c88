"""What incremental crawling reads from the database before a crawl starts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from oilnews.storage.models import aliases_table, articles_table, quotes_table, runs_table


@dataclass(frozen=True)
class KnownArticle:
    content_hash: str
    published_at: datetime | None
    last_seen_at: datetime | None
    alias_of: str | None = None  # set for an alias URL: the article it belongs to


def known_articles(conn: Connection) -> dict[str, KnownArticle]:
    """Every stored article URL and alias URL, with what incremental crawling needs."""
    a, al = articles_table, aliases_table
    known = {
        url: KnownArticle(digest, published, seen)
        for url, digest, published, seen in conn.execute(
            select(a.c.url, a.c.content_hash, a.c.published_at, a.c.last_seen_at)
        )
    }
    aliases = select(al.c.url, a.c.content_hash, a.c.published_at, a.c.last_seen_at, a.c.url).join(
        a, a.c.id == al.c.article_id
    )
    for alias, digest, published, seen, article_url in conn.execute(aliases):
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
