"""The whole archive, run after run: a backfill in budgeted slices.

With OILNEWS_BACKFILL_SINCE (`oilnews crawl --backfill-since 2011-01`) every run first does the
fresh news (listings down to the sitemap lookback window, the RSS feed, the recent sitemaps),
and when that work is done spends at most OILNEWS_BACKFILL_BUDGET_MINUTES on the archive:
the oldest incomplete month first, its monthly sitemap, then its articles a chunk at a time
(stored ones are skipped as known). When the budget is spent nothing more of the archive is
scheduled and the run ends normally; the next run continues where this one stopped. Months are
marked complete in `backfill_months` (oilnews.storage.backfill) only by a run that closed
normally, after its last batch was written, so a run killed at any moment leaves no gap.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured

from oilnews.dates import months_between, parse_user_instant
from oilnews.items import ArticleItem
from oilnews.stats import key
from oilnews.storage.backfill import Month, ensure_months, incomplete_months, record_month, stored_urls
from oilnews.storage.database import Database

logger = logging.getLogger(__name__)

CHUNK = 50  # article requests scheduled at a time: the budget is checked between chunks
ARCHIVE_PRIORITY = -100  # below everything fresh


@dataclass
class MonthWork:
    month: Month
    urls: list[str] | None = None  # from its sitemap; None until the sitemap is read
    next_index: int = 0
    seconds: float = 0.0
    sitemap_missing: bool = False  # the site has no sitemap for it (404): nothing to fetch
    sitemap_failed: bool = False  # it could not be read this run: the month stays open


class Backfill:
    """A Scrapy extension, on when OILNEWS_BACKFILL_SINCE is set (see the module docstring)."""

    def __init__(self, crawler: Crawler, since: datetime, budget_seconds: float) -> None:
        self.crawler = crawler
        self.since = (since.year, since.month)
        self.budget = budget_seconds
        self.months: list[Month] = []
        self.work: dict[Month, MonthWork] = {}
        self.current: MonthWork | None = None
        self.accounted: set[str] = set()  # answered gone or dropped this run: not missing
        self.started: float | None = None  # when the archive slice began (fresh work done)
        self._mark = 0.0
        self.exhausted = False
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Backfill:
        settings = crawler.settings
        since = settings.get("OILNEWS_BACKFILL_SINCE")
        if not since:
            raise NotConfigured
        return cls(
            crawler, parse_user_instant(since), settings.getfloat("OILNEWS_BACKFILL_BUDGET_MINUTES") * 60
        )

    @classmethod
    def of(cls, crawler: Crawler) -> Backfill | None:
        return crawler.get_extension(cls)

    @property
    def database(self) -> Database:
        return Database.of(self.crawler)

    async def spider_opened(self, spider: Any) -> None:
        now = datetime.now(UTC)
        wanted = list(months_between(datetime(self.since[0], self.since[1], 1, tzinfo=UTC), now))

        def plan(conn: Any) -> list[Month]:
            ensure_months(conn, wanted)
            return incomplete_months(conn, self.since)

        try:
            self.months = await self.database.run(plan)
        except Exception as error:  # the store pipeline reports an unusable database
            logger.error("backfill: months not loaded (%s); no archive work this run", error)
            self.months = []
        self.crawler.stats.set_value(key("backfill", "months_pending"), len(self.months))

    # -- the slice ------------------------------------------------------------------------------
    def _tick(self) -> None:
        now = time.monotonic()
        if self.current is not None:
            self.current.seconds += now - self._mark
        self._mark = now

    def spider_idle(self, spider: Any) -> None:
        if self.exhausted:
            return
        scheduler = self.crawler.engine.scheduler
        if scheduler is not None and scheduler.has_pending_requests():
            return  # the spider's own idle handler found more fresh work (its deferred links)
        now = time.monotonic()
        if self.started is None:
            self.started = self._mark = now
            logger.info("backfill: fresh work done; %d month(s) of the archive to go", len(self.months))
        self._tick()
        if now - self.started >= self.budget:
            self.exhausted = True
            self.crawler.stats.set_value(key("backfill", "budget_spent"), True)
            logger.info("backfill: budget of %.0f s spent; the next run continues", self.budget)
            return
        requests = self._next(spider)
        if requests is None:
            self.exhausted = True
            return
        for request in requests:
            self.crawler.engine.crawl(request)
        raise DontCloseSpider

    def _next(self, spider: Any) -> list[Request] | None:
        while True:
            work = self.current
            if work is None:
                if not self.months:
                    return None
                month = self.months.pop(0)
                work = self.current = self.work.setdefault(month, MonthWork(month))
                self.crawler.stats.inc_value(key("backfill", "months_started"))
                return [spider.backfill_sitemap_request(month)]
            if work.sitemap_failed:
                self.current = None  # try it again next run; go on with the next month
                continue
            if work.urls is None and not work.sitemap_missing:
                return None  # its sitemap is in flight (idle should not happen); wait
            urls = work.urls or []
            requests: list[Request] = []
            while work.next_index < len(urls) and len(requests) < CHUNK:
                url = urls[work.next_index]
                work.next_index += 1
                request = spider.article_request(url, hops=spider.max_hops)
                if request is not None:
                    request.priority = ARCHIVE_PRIORITY
                    requests.append(request)
            if requests:
                self.crawler.stats.inc_value(key("backfill", "requests"), len(requests))
                return requests
            self.current = None  # every URL of this month is scheduled or known: the next one

    def sitemap_read(self, month: Month, urls: list[str]) -> None:
        """The spider read the month's sitemap (or one that its index names)."""
        work = self.work.setdefault(month, MonthWork(month))
        work.urls = list(dict.fromkeys((work.urls or []) + urls))

    def sitemap_failed(self, month: Month, missing: bool) -> None:
        """The month's sitemap is not there (`missing`: nothing to fetch) or could not be read."""
        work = self.work.setdefault(month, MonthWork(month))
        if missing:
            work.sitemap_missing = True
        else:
            work.sitemap_failed = True

    def item_dropped(self, item: Any, response: Any, exception: BaseException, spider: Any) -> None:
        if isinstance(item, ArticleItem):
            self.accounted.add(item.url)

    def gone(self, url: str) -> None:
        self.accounted.add(url)

    # -- the record -----------------------------------------------------------------------------
    async def spider_closed(self, spider: Any, reason: str) -> None:
        self._tick()
        if reason != "finished" or not self.work:
            return  # an interrupted run proves nothing complete: the next one checks again

        def record(conn: Any) -> int:
            completed = 0
            for month, work in self.work.items():
                urls = work.urls or []
                listed_all = not work.sitemap_failed and (
                    work.sitemap_missing or (work.urls is not None and work.next_index >= len(urls))
                )
                missing = set(urls) - self.accounted - stored_urls(conn, urls) if listed_all else {"?"}
                complete = listed_all and not missing
                record_month(
                    conn, month, work.seconds, len(urls) if work.urls is not None else None, complete
                )
                completed += complete
            return completed

        completed = await self.database.run(record)
        self.crawler.stats.set_value(key("backfill", "months_completed"), completed)
        logger.info("backfill: %d month(s) completed this run", completed)
