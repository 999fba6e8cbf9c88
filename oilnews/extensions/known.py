"""What the database already holds, as far as a crawl needs it; shared by spider and pipelines.

This is what makes a scheduled crawl cheap: stored URLs are not downloaded again (outside the
refresh window or a newer sitemap lastmod), and listing pagination stops at the watermark.
A crawl looks up only the URLs it meets (`look_up`, a listing page or an article's links at a
time), so its start and its memory do not grow with the database: loading all 100,000 stored
articles took 0.7 s and 20 MB of every rerun (issue 15). Into an empty database nothing is
looked up at all. The watcher, which polls for hours, loads them all once (`load(everything)`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from scrapy.crawler import Crawler

from oilnews.seen import DigestSet
from oilnews.stats import key
from oilnews.storage.database import Database
from oilnews.storage.queries import (
    KnownArticle,
    anything_stored,
    completed_watermark,
    known_articles,
    last_chart_fetch,
)


class KnownIndex:
    """A Scrapy extension (EXTENSIONS): the spider and the dedupe pipeline share one, found
    with `KnownIndex.of(crawler)`. `articles` holds the stored URLs looked up so far."""

    def __init__(self, crawler: Crawler, refresh_window: timedelta, full: bool) -> None:
        self.crawler = crawler
        self.refresh_window = refresh_window
        self.full = full
        self.articles: dict[str, KnownArticle] = {}
        self.watermark: datetime | None = None
        self.chart_fetched_at: datetime | None = None
        self._loaded: asyncio.Task[None] | None = None
        self._looked_up = DigestSet()  # URLs asked about already, stored or not
        self._lookups = False  # set once loaded, if the database holds anything to find
        self._lookup_lock = asyncio.Lock()

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
            raise RuntimeError("oilnews.extensions.known.KnownIndex must be in EXTENSIONS")
        return index

    @property
    def stats(self) -> Any:
        return self.crawler.stats

    @property
    def database(self) -> Database:
        return Database.of(self.crawler)

    async def load(self, everything: bool = False) -> None:
        """Read what every run needs once, however many components ask (they open
        concurrently); `everything`: every stored URL too, for a process that runs for hours."""
        if self._loaded is None:
            self._loaded = asyncio.ensure_future(self._load(everything))
        await self._loaded

    async def _load(self, everything: bool) -> None:
        def read(conn: Any) -> tuple[dict[str, KnownArticle], bool, datetime | None, datetime | None]:
            articles = known_articles(conn) if everything else {}
            stored = bool(articles) or (not everything and anything_stored(conn))
            return articles, stored, completed_watermark(conn), last_chart_fetch(conn)

        self.articles, stored, self.watermark, self.chart_fetched_at = await self.database.run(read)
        self._lookups = stored and not everything and not self.full  # full: fetched anyway
        if everything:
            self.stats.set_value(key("known", "articles"), len(self.articles))

    async def look_up(self, urls: Iterable[str]) -> None:
        """Find which of `urls` are stored (into `articles`), each URL once a run; one query."""
        if not self._lookups:
            return
        # One at a time: a callback must not take a URL for unknown while another callback's
        # query for it is still in flight (listings and sitemaps name the same articles).
        async with self._lookup_lock:
            wanted = list(dict.fromkeys(u for u in urls if u not in self._looked_up))
            if not wanted:
                return
            found = await self.database.run(lambda conn: known_articles(conn, wanted))
            self.articles.update(found)
            for url in wanted:
                self._looked_up.add(url)
        self.stats.inc_value(key("known", "lookups"))
        self.stats.inc_value(key("known", "articles"), len(found))

    def chart_due(self, every_hours: float) -> bool:
        """Whether the rendered price chart was last stored longer ago than `every_hours`."""
        fetched = self.chart_fetched_at
        return fetched is None or datetime.now(UTC) - fetched > timedelta(hours=every_hours)

    def should_fetch(self, url: str, modified_at: datetime | None = None) -> bool:
        """False for a stored article that cannot have changed since it was last fetched
        (`look_up` it first)."""
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
