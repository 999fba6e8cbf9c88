"""What the database already holds, loaded once per crawl and shared by spider and pipelines.

This is what makes a scheduled crawl cheap: stored URLs are not downloaded again (outside the
refresh window or a newer sitemap lastmod), and listing pagination stops at the watermark.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from scrapy.crawler import Crawler

from oilnews.stats import key
from oilnews.storage.database import Database
from oilnews.storage.queries import KnownArticle, completed_watermark, known_articles, last_chart_fetch


class KnownIndex:
    """A Scrapy extension (EXTENSIONS): the spider and the dedupe pipeline share one, found
    with `KnownIndex.of(crawler)`; the database is read once, when the first of them asks."""

    def __init__(self, crawler: Crawler, refresh_window: timedelta, full: bool) -> None:
        self.crawler = crawler
        self.refresh_window = refresh_window
        self.full = full
        self.articles: dict[str, KnownArticle] = {}
        self.watermark: datetime | None = None
        self.chart_fetched_at: datetime | None = None
        self._loaded: asyncio.Task[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> KnownIndex:
        settings = crawler.settings
        return cls(
            crawler,
            timedelta(hours=settings.getfloat("OILNEWS_REFRESH_WINDOW_HOURS")),
            settings.getbool("OILNEWS_FULL"),
        )

    @classmethod
    def of(cls, crawler: Crawler) -> KnownIndex:
        index = crawler.get_extension(cls)
        if index is None:
            raise RuntimeError("oilnews.known.KnownIndex must be in EXTENSIONS")
        return index

    @property
    def stats(self) -> Any:
        return self.crawler.stats

    @property
    def database(self) -> Database:
        return Database.of(self.crawler)

    async def load(self) -> None:
        """Load once, however many components ask (they open concurrently)."""
        if self._loaded is None:
            self._loaded = asyncio.ensure_future(self._load())
        await self._loaded

    async def _load(self) -> None:
        def read(conn: Any) -> tuple[dict[str, KnownArticle], datetime | None, datetime | None]:
            return known_articles(conn), completed_watermark(conn), last_chart_fetch(conn)

        self.articles, self.watermark, self.chart_fetched_at = await self.database.run(read)
        self.stats.set_value(key("known", "articles"), len(self.articles))

    def chart_due(self, every_hours: float) -> bool:
        """Whether the rendered price chart was last stored longer ago than `every_hours`."""
        fetched = self.chart_fetched_at
        return fetched is None or datetime.now(UTC) - fetched > timedelta(hours=every_hours)

    def should_fetch(self, url: str, modified_at: datetime | None = None) -> bool:
        """False for a stored article that cannot have changed since it was last fetched."""
        known = self.articles.get(url)
        if self.full or known is None:
            return True
        now = datetime.now(UTC)
        if known.published_at is not None and now - known.published_at < self.refresh_window:
            self.stats.inc_value(key("refresh", "window"))
            return True
        if modified_at is not None and known.last_seen_at is not None and modified_at > known.last_seen_at:
            self.stats.inc_value(key("refresh", "modified"))
            return True
        self.stats.inc_value(key("skipped", "known"))
        return False

    def listing_exhausted(self, entries: list[tuple[str, datetime | None]]) -> bool:
        """A listing page of only known articles, none newer than the last complete crawl
        reached: the pages after it hold nothing new."""
        if self.full or self.watermark is None or not entries:
            return False
        return all(
            url in self.articles and listed_at is not None and listed_at <= self.watermark
            for url, listed_at in entries
        )
