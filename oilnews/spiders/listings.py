"""The news spider's listing routes: section listings with their pagination (and where it
ends), the RSS feed, and the price ticker in a listing page's header."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard

from scrapy import Request
from scrapy.http import Response, TextResponse

from oilnews.dates import parse_http_date
from oilnews.items import ListingEntry
from oilnews.pages.feeds import parse_rss
from oilnews.pages.listing import parse_listing
from oilnews.pages.ticker import parse_ticker
from oilnews.spiders.frontier import LISTING_PRIORITY
from oilnews.stats import key, record_skip

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.python.failure import Failure

    from oilnews.extensions.known import KnownIndex
    from oilnews.seen import DigestSet

logger = logging.getLogger(__name__)


class _NewsSpider(Protocol):
    """What these routes read of the news spider (set by its _configure)."""

    crawler: Crawler
    known: KnownIndex
    listing_since: datetime | None
    max_pages: int
    max_listing_pages: int
    _listed: DigestSet
    _ticker_done: bool

    def article_request(self, url: str, hops: int, modified_at: datetime | None = None) -> Request | None: ...
    def on_error(self, failure: Failure) -> list[Request]: ...
    def _is_html(self, response: Response) -> TypeGuard[TextResponse]: ...
    def _listing_request(self, url: str, section: str, page: int) -> Request: ...
    def _entries(self, entries: list[ListingEntry]) -> AsyncIterator[Request]: ...
    def _ticker(self, response: TextResponse) -> Iterator[Any]: ...
    def parse_listing(self, response: Response, section: str, page: int) -> AsyncIterator[Any]: ...
    def parse_rss(self, response: Response) -> AsyncIterator[Any]: ...


class ListingRoutes:
    def _listing_request(self: _NewsSpider, url: str, section: str, page: int) -> Request:
        return Request(
            url,
            callback=self.parse_listing,
            errback=self.on_error,
            cb_kwargs={"section": section, "page": page},
            priority=LISTING_PRIORITY,
        )

    async def _entries(self: _NewsSpider, entries: list[ListingEntry]) -> AsyncIterator[Request]:
        await self.known.look_up(e.url for e in entries)
        for entry in entries:
            if (
                self.listing_since is not None
                and entry.listed_at is not None
                and entry.listed_at < self.listing_since
            ):
                self.crawler.stats.inc_value(key("skipped", "before_since"))
                continue
            request = self.article_request(entry.url, hops=0, modified_at=entry.modified_at)
            if request is not None:
                yield request

    # -- callbacks --------------------------------------------------------------------------
    async def parse_listing(
        self: _NewsSpider, response: Response, section: str, page: int
    ) -> AsyncIterator[Any]:
        if not self._is_html(response):
            return
        self.crawler.stats.inc_value(key("pages", "listing"))
        listing = parse_listing(response)
        if not listing.entries:
            record_skip(self.crawler.stats, response.url, "empty_listing")
        # A page that lists only URLs an earlier listing page of this run listed (a pagination
        # that never ends, loops back or repeats itself) adds nothing: it is the last. Listed,
        # not requested: a real page 2 holds articles that sidebar links reached already.
        fresh = [e.url for e in listing.entries if self._listed.add(e.url)]
        for quote in self._ticker(response):
            yield quote
        async for request in self._entries(listing.entries):  # looks them all up
            yield request
        if not listing.next_url:
            return
        dated = [e.listed_at for e in listing.entries if e.listed_at is not None]
        if self.listing_since is not None and dated and max(dated) < self.listing_since:
            return  # older than this run wants from the listings
        if self.max_pages and page >= self.max_pages:
            return  # as many pages as asked for
        if self.known.listing_exhausted([(e.url, e.listed_at) for e in listing.entries]):
            self.crawler.stats.inc_value(key("listing", "stopped_at_known"))
            return
        if not fresh:
            self.crawler.stats.inc_value(key("listing", "stopped_nothing_new"))
            logger.info("%s: listing page %d brings no new article: its pagination ends here", section, page)
            return
        if page >= self.max_listing_pages:
            self.crawler.stats.inc_value(key("listing", "stopped_page_cap"))
            logger.warning(
                "%s: %d listing pages read, OILNEWS_MAX_LISTING_PAGES: its pagination ends here",
                section,
                page,
            )
            return
        yield self._listing_request(listing.next_url, section, page + 1)

    async def parse_rss(self: _NewsSpider, response: Response) -> AsyncIterator[Any]:
        self.crawler.stats.inc_value(key("pages", "feed"))
        async for request in self._entries(parse_rss(response)):
            yield request

    def _ticker(self: _NewsSpider, response: TextResponse) -> Iterator[Any]:
        if self._ticker_done:
            return
        header = response.headers.get("Date")
        served_at = parse_http_date(header.decode("latin-1") if header else None) or datetime.now(UTC)
        quotes = parse_ticker(response, served_at)
        if quotes:
            self._ticker_done = True
            self.crawler.stats.inc_value(key("pages", "ticker"))
            yield from quotes
