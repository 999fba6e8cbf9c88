"""The `watch` spider: polls the feed and the section listings, fetches what is new. Routing only.

When to poll what is oilnews.spiders.watch_policy's policy; the pages are read by the same parsers as the
`news` spider's, and the articles go through the same pipelines. It ends when
OILNEWS_WATCH_MAX_MINUTES have passed (0: never), on SIGTERM/SIGINT (what is in flight is
stored first), or when the database is unusable for good; never on a transient error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from twisted.python.failure import Failure

from oilnews.errors import DatabaseUnusable
from oilnews.health import DATABASE_UNUSABLE_REASON
from oilnews.items import ListingEntry
from oilnews.middlewares import rendering
from oilnews.pages.feeds import parse_rss, parse_sitemap
from oilnews.pages.listing import parse_listing
from oilnews.site import sitemap_path
from oilnews.spiders import failures, watch_policy
from oilnews.spiders.frontier import LISTED_PRIORITY, LISTING_PRIORITY
from oilnews.spiders.news import CHART_READY, NewsSpider
from oilnews.stats import key
from oilnews.summary import DEFAULT_HEARTBEAT_SECONDS, WATCH_SPIDER
from oilnews.urls import is_article_url

logger = logging.getLogger(__name__)

SOURCE_META = "oilnews_watch_source"
NAP_SECONDS = 1.0  # the longest sleep between two looks at the schedule (and the clock)


class WatchSpider(NewsSpider):
    name = WATCH_SPIDER
    custom_settings = {
        "OILNEWS_DB_FLUSH_SECONDS": 2.0,  # a new article is in the database seconds after its page
        "OILNEWS_CLEAN_FINISH_REASONS": ["finished", "shutdown"],  # SIGTERM is how a watcher stops
        "OILNEWS_WATCH_HEARTBEAT_SECONDS": DEFAULT_HEARTBEAT_SECONDS,
    }

    def _configure(self) -> None:
        super()._configure()
        settings = self.crawler.settings
        self.max_minutes = settings.getfloat("OILNEWS_WATCH_MAX_MINUTES")
        self.refresh_window = timedelta(hours=settings.getfloat("OILNEWS_REFRESH_WINDOW_HOURS"))
        self.schedule = watch_policy.WatchSchedule(
            watch_policy.sources(settings, self.site_url, self.sections, self.chart_path)
        )
        self._first_seen: dict[str, datetime] = {}  # new this run: url -> when first requested
        self._refetched: dict[str, datetime] = {}  # fetched again after a newer lastmod

    # -- requests ---------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Request]:
        self._configure()
        try:
            await self.known.load(everything=True)  # polled for hours: all of it, once
        except DatabaseUnusable:
            raise CloseSpider(DATABASE_UNUSABLE_REASON) from None
        deadline = time.monotonic() + self.max_minutes * 60 if self.max_minutes > 0 else None
        logger.info(
            "watching %d sources of %s%s",
            len(self.schedule.sources),
            self.site_url,
            f" for {self.max_minutes:g} min" if deadline else "",
        )
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                logger.info("OILNEWS_WATCH_MAX_MINUTES reached: no more polls, finishing what is in flight")
                return
            for source in self.schedule.due():
                if source.kind == watch_policy.REFRESH:
                    for request in self._refresh():
                        yield request
                    self.schedule.sent(source)
                    self.schedule.answered(source, 0)
                    continue
                self.schedule.sent(source)
                yield self._poll_request(source)
            nap = min(NAP_SECONDS, self.schedule.seconds_to_next())
            if deadline is not None:
                nap = min(nap, max(0.0, deadline - time.monotonic()))
            await asyncio.sleep(nap)

    def _poll_request(self, source: watch_policy.Source) -> Request:
        url = source.url
        if source.kind == watch_policy.SITEMAP:
            now = datetime.now(UTC)
            url = self.site_url + sitemap_path(now.year, now.month)
            if url != source.url:  # a new month: the old month's validators mean nothing
                source.url = url
                source.remember(None, None)
        meta: dict[str, Any] = {
            SOURCE_META: source.name,
            "handle_httpstatus_list": [304],
            "max_retry_times": 1,  # the next poll is the retry
        }
        if source.kind == watch_policy.CHART:
            meta.update(rendering.render_meta(CHART_READY))
        if source.kind == watch_policy.SITEMAP:
            meta["optional"] = True  # early in a month the sitemap may not exist yet
        self.crawler.stats.inc_value(key("watch", "polls"))
        return Request(
            url,
            callback=self.parse_watched,
            errback=self.on_watch_error,
            headers=source.headers(),
            meta=meta,
            priority=LISTING_PRIORITY,
            dont_filter=True,
        )

    def _refresh(self) -> Iterator[Request]:
        """Articles still in the refresh window, fetched again (edits without a lastmod)."""
        now = datetime.now(UTC)
        fresh = {
            url
            for url, known in self.known.articles.items()
            if known.alias_of is None
            and known.published_at is not None
            and now - known.published_at < self.refresh_window
        }
        fresh |= {url for url, seen in self._first_seen.items() if now - seen < self.refresh_window}
        self.crawler.stats.inc_value(key("watch", "refreshed"), len(fresh))
        for url in sorted(fresh):
            yield self._article(url, refetch=True)

    def _article(self, url: str, refetch: bool = False) -> Request:
        return Request(
            url,
            callback=self.parse_article,
            errback=self.on_error,
            cb_kwargs={"hops": 0},
            priority=LISTED_PRIORITY,
            meta={rendering.ARTICLE_PAGE: True},
            dont_filter=refetch,
        )

    def _wanted(self, url: str, modified_at: datetime | None = None) -> bool:
        """An article neither stored nor requested yet (listed, or linked from a new one)."""
        if not is_article_url(url, self.site_url):
            return False
        if url in self.known.articles or url in self._first_seen:
            self.crawler.stats.inc_value(key("skipped", "known"))
            return False
        self._first_seen[url] = datetime.now(UTC)
        self.crawler.stats.inc_value(key("watch", "new_listed"))
        return True

    def article_request(self, url: str, hops: int, modified_at: datetime | None = None) -> Request | None:
        """A new article; or a stored one whose sitemap lastmod is newer than our last look."""
        known = self.known.articles.get(url)
        seen = max(
            (t for t in (known.last_seen_at if known else None, self._refetched.get(url)) if t is not None),
            default=None,
        )
        if modified_at is not None and seen is not None and modified_at > seen:
            self._refetched[url] = datetime.now(UTC)
            self.crawler.stats.inc_value(key("refresh", "modified"))
            return self._article(url, refetch=True)
        return self._article(url) if self._wanted(url) else None

    def _article_request(self, url: str, hops: int) -> Request:
        return self._article(url)

    # -- callbacks --------------------------------------------------------------------------
    def parse_watched(self, response: Response) -> Iterator[Any]:
        source = self.schedule[response.meta[SOURCE_META]]
        if response.status == 304:
            self.crawler.stats.inc_value(key("watch", "not_modified"))
            self.schedule.answered(source, 0)
            return
        headers = response.headers
        etag, modified = headers.get("ETag"), headers.get("Last-Modified")
        source.remember(
            etag.decode("latin-1") if etag else None, modified.decode("latin-1") if modified else None
        )
        if source.kind == watch_policy.CHART:
            self.schedule.answered(source, 0)
            yield from self.parse_chart(response)
            return
        if not self._is_html(response):
            self.schedule.answered(source, 0)
            return
        entries = self._entries_of(source, response)
        if source.kind == watch_policy.TICKER:
            self._ticker_done = False  # the ticker is wanted from every answer of this source
            yield from self._ticker(response)
        if not etag and not modified and not source.listing_changed(e.url for e in entries):
            self.crawler.stats.inc_value(key("watch", "unchanged"))  # no validators: same list
            self.schedule.answered(source, 0)
            return
        requests = [r for r in (self.article_request(e.url, 0, e.modified_at) for e in entries) if r]
        self.schedule.answered(source, len(requests))
        if requests:
            logger.info("%s: %d new or changed articles", source.name, len(requests))
        yield from requests

    def _entries_of(self, source: watch_policy.Source, response: Response) -> list[ListingEntry]:
        self.crawler.stats.inc_value(
            key("pages", "listing" if source.kind in (watch_policy.LISTING, watch_policy.TICKER) else "feed")
        )
        if source.kind == watch_policy.FEED:
            return parse_rss(response)
        if source.kind == watch_policy.SITEMAP:
            return parse_sitemap(response)[0]
        return parse_listing(response).entries  # type: ignore[arg-type]

    def on_watch_error(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        source = self.schedule[request.meta[SOURCE_META]] if request is not None else None
        kind = failures.classify(failure)[0]
        if source is not None and kind in ("optional", "gone", "refused"):
            # No sitemap for this month yet, or robots.txt says no: nothing listed, no outage.
            failures.record(self.crawler.stats, failure)
            self.schedule.answered(source, 0)
            return
        failures.record(self.crawler.stats, failure)
        self.crawler.stats.inc_value(key("watch", "poll_failed"))
        if source is not None:
            self.schedule.failed(source)
            logger.info("%s: poll failed, next in %.0f s", source.name, source.due_at - time.monotonic())

    def watch_status(self) -> dict[str, Any]:
        status = self.schedule.status() if hasattr(self, "schedule") else {}
        return {**status, "new_listed": len(self._first_seen) if hasattr(self, "_first_seen") else 0}
