"""The news spider's sitemap routes: the monthly sitemaps a run reads at its start, sitemap
indexes (bounded by OILNEWS_MAX_SITEMAPS, on the site only), and the months of a sliced backfill."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from scrapy import Request
from scrapy.http import Response
from twisted.python.failure import Failure

from oilnews.dates import months_ago, months_between
from oilnews.extensions.backfill import ARCHIVE_PRIORITY
from oilnews.items import ListingEntry
from oilnews.pages.feeds import parse_sitemap
from oilnews.site import sitemap_path
from oilnews.spiders import failures
from oilnews.spiders.frontier import LISTING_PRIORITY
from oilnews.stats import key, record_skip
from oilnews.urls import is_article_url, same_origin

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from oilnews.extensions.backfill import Backfill
    from oilnews.extensions.known import KnownIndex

logger = logging.getLogger(__name__)


class _NewsSpider(Protocol):
    """What these routes read of the news spider (set by its _configure)."""

    crawler: Crawler
    known: KnownIndex
    backfill: Backfill | None
    site_url: str
    since: datetime | None
    sitemap_lookback: int
    max_sitemaps: int
    _nested_sitemaps: int

    def on_error(self, failure: Failure) -> list[Request]: ...
    def _entries(self, entries: list[ListingEntry]) -> AsyncIterator[Request]: ...
    def _nested_sitemaps_to_read(self, nested: list[str]) -> Iterator[str]: ...
    def parse_sitemap(self, response: Response) -> AsyncIterator[Any]: ...
    def parse_backfill_sitemap(self, response: Response, month: tuple[int, int]) -> AsyncIterator[Any]: ...
    def on_backfill_error(self, failure: Failure) -> None: ...


class SitemapRoutes:
    def sitemap_requests(self: _NewsSpider) -> Iterator[Request]:
        """The monthly sitemaps a run reads at its start. A backfill walks every month since
        --since; a scheduled run reads the latest months, whose lastmod dates reveal edits to
        articles it would not download again otherwise."""
        now = datetime.now(UTC)
        first = self.since
        if first is None and self.sitemap_lookback > 0:
            first = months_ago(now, self.sitemap_lookback - 1)
        if first is not None:
            for year, month in months_between(first, now):
                yield Request(
                    self.site_url + sitemap_path(year, month),
                    callback=self.parse_sitemap,
                    errback=self.on_error,
                    meta={"optional": True},
                    priority=LISTING_PRIORITY,
                )

    async def parse_sitemap(self: _NewsSpider, response: Response) -> AsyncIterator[Any]:
        self.crawler.stats.inc_value(key("pages", "feed"))
        entries, nested = parse_sitemap(response)
        if not entries and not nested:
            record_skip(self.crawler.stats, response.url, "empty_sitemap")
        async for request in self._entries(entries):
            yield request
        for url in self._nested_sitemaps_to_read(nested):
            yield Request(url, callback=self.parse_sitemap, errback=self.on_error, priority=LISTING_PRIORITY)

    def _nested_sitemaps_to_read(self: _NewsSpider, nested: list[str]) -> Iterator[str]:
        """The sitemaps an index names that this run reads: on the site, at most
        OILNEWS_MAX_SITEMAPS in all (an index naming thousands must not make a crawl unbounded)."""
        for url in nested:
            if not same_origin(url, self.site_url):
                record_skip(self.crawler.stats, url, "offsite_sitemap")
            elif self._nested_sitemaps >= self.max_sitemaps:
                if not self.crawler.stats.get_value(key("sitemaps", "capped")):
                    logger.warning(
                        "%d nested sitemaps read, OILNEWS_MAX_SITEMAPS: the rest are left", self.max_sitemaps
                    )
                self.crawler.stats.inc_value(key("sitemaps", "capped"))
            else:
                self._nested_sitemaps += 1
                yield url

    def backfill_sitemap_request(self: _NewsSpider, month: tuple[int, int]) -> Request:
        """A month of the archive, for the backfill (even if a fresh sitemap read it this run)."""
        return Request(
            self.site_url + sitemap_path(*month),
            callback=self.parse_backfill_sitemap,
            errback=self.on_backfill_error,
            cb_kwargs={"month": month},
            meta={"optional": True, "oilnews_month": month},
            priority=ARCHIVE_PRIORITY,
            dont_filter=True,
        )

    async def parse_backfill_sitemap(
        self: _NewsSpider, response: Response, month: tuple[int, int]
    ) -> AsyncIterator[Any]:
        self.crawler.stats.inc_value(key("pages", "feed"))
        entries, nested = parse_sitemap(response)
        assert self.backfill is not None
        urls = [e.url for e in entries if is_article_url(e.url, self.site_url)]
        await self.known.look_up(urls)  # the backfill asks article_request of them later
        self.backfill.sitemap_read(month, urls)
        for url in self._nested_sitemaps_to_read(nested):  # an index: its sitemaps are the month's
            yield Request(
                url,
                callback=self.parse_backfill_sitemap,
                errback=self.on_backfill_error,
                cb_kwargs={"month": month},
                meta={"oilnews_month": month},
                priority=ARCHIVE_PRIORITY,
            )

    def on_backfill_error(self: _NewsSpider, failure: Failure) -> None:
        failures.record(self.crawler.stats, failure)
        request = getattr(failure, "request", None)
        month = request.meta.get("oilnews_month") if request is not None else None
        if self.backfill is not None and month is not None:
            missing = failures.classify(failure)[0] == "optional"  # no sitemap: nothing that month
            self.backfill.sitemap_failed(tuple(month), missing)
