"""The `news` spider: which pages to request and which parser reads each. Nothing else.

Parsing lives in oilnews.pages, the settings it derives in oilnews.addons, the browser
fallbacks in oilnews.middlewares.rendering, error reasons in oilnews.spiders.failures, what is already stored in
oilnews.extensions.known.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any, TypeGuard

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DontCloseSpider
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from oilnews import config
from oilnews.dates import months_ago, months_between, parse_http_date, parse_since
from oilnews.errors import DatabaseUnusable
from oilnews.extensions.backfill import ARCHIVE_PRIORITY, Backfill
from oilnews.extensions.known import KnownIndex
from oilnews.health import DATABASE_UNUSABLE_REASON
from oilnews.items import ListingEntry
from oilnews.middlewares import rendering
from oilnews.pages.article import parse_article
from oilnews.pages.chart import parse_chart
from oilnews.pages.feeds import parse_rss, parse_sitemap
from oilnews.pages.listing import parse_listing
from oilnews.pages.ticker import parse_ticker
from oilnews.seen import DigestSet
from oilnews.site import RSS_PATH, listing_path, sitemap_path
from oilnews.spiders import failures
from oilnews.stats import key, record_skip
from oilnews.urls import is_article_url, same_origin

logger = logging.getLogger(__name__)

# Link kinds on an article page that lead to more articles worth crawling.
FOLLOW_KINDS = frozenset(
    {
        "related",
        "popular",
        "most_commented",
        "previous",
        "next",
        "related_posts",
        "more_top_reads",
        "related_inline",
        "body",
    }
)
# Scheduling order: listed articles first (the queue stays bounded by a listing page), then
# listing/feed pages, then articles found only through links, nearest first. So every listed
# article is reached at hop 0 or 1, and its links are followed even with a small hop limit.
LISTED_PRIORITY = 10
LISTING_PRIORITY = 5
# Articles found only through links wait as bare URLs (about 150 bytes each) rather than as
# Requests (about 2 KB each, with their meta, headers and callbacks): handed to the scheduler
# FRONTIER_CHUNK at a time whenever it holds fewer than FRONTIER_LOW requests. On a replica of
# 30,000 articles the scheduler had held 22,000 link Requests at its peak (issue 15).
FRONTIER_LOW = 1000
FRONTIER_CHUNK = 500
CHART_READY = "#chart-data tr"  # what the rendered chart page shows once its script has run


def article_priority(hops: int) -> int:
    return LISTED_PRIORITY if hops == 0 else LISTING_PRIORITY - hops


class NewsSpider(Spider):
    name = "news"

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        # Spider arguments (`-a since=2024-01`, scrapyd's schedule.json) become the settings
        # they name before those freeze, so every component reads one value.
        config.apply_spider_arguments(crawler.settings, kwargs)
        spider: NewsSpider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.spider_idle, signal=signals.spider_idle)
        return spider

    def _configure(self) -> None:
        settings = self.crawler.settings
        self.site_url = str(settings.get("OILNEWS_SITE_URL")).rstrip("/")
        self.sections = [s.strip().strip("/") for s in settings.getlist("OILNEWS_SECTIONS") if s.strip()]
        self.max_pages = settings.getint("OILNEWS_MAX_PAGES")
        self.max_listing_pages = settings.getint("OILNEWS_MAX_LISTING_PAGES")
        self.max_hops = settings.getint("OILNEWS_MAX_HOPS")
        self.max_follow = settings.getint("OILNEWS_MAX_FOLLOW_PER_PAGE")
        self.chart_path = settings.get("OILNEWS_CHART_PATH") or ""
        self.chart_every_hours = settings.getfloat("OILNEWS_CHART_EVERY_HOURS")
        self.render = settings.getbool("OILNEWS_RENDER_AVAILABLE")
        self.use_rss = settings.getbool("OILNEWS_USE_RSS")
        since = settings.get("OILNEWS_SINCE")
        self.since = parse_since(since) if since else None
        self.sitemap_lookback = settings.getint("OILNEWS_SITEMAP_LOOKBACK_MONTHS")
        # A sliced backfill takes the archive month by month (oilnews.extensions.backfill): the fresh part
        # of a run then walks the listings only down to the recent months the sitemaps cover.
        self.backfill = Backfill.of(self.crawler)
        self.listing_since = self.since
        if self.listing_since is None and self.backfill is not None:
            self.listing_since = months_ago(datetime.now(UTC), max(0, self.sitemap_lookback - 1))
        self.known = KnownIndex.of(self.crawler)
        self._ticker_done = False
        self.max_sitemaps = settings.getint("OILNEWS_MAX_SITEMAPS")
        self._nested_sitemaps = 0
        # Decided once per URL and run; 8 bytes an entry (oilnews.seen), not a set of strings.
        self._requested = DigestSet()  # article URLs requested this run
        self._skipped = DigestSet()  # ... and those decided against
        self._listed = DigestSet()  # article URLs the listing pages named
        # Linked articles to request, by hops; with a shared frontier (Redis) the scheduler's
        # queue is not in this process's memory, and every worker must see the links at once.
        self._links: list[deque[str]] = [deque() for _ in range(self.max_hops + 1)]
        self._defer_links = not settings.get("OILNEWS_REDIS_URL")

    # -- requests ---------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Request]:
        self._configure()
        try:
            await self.known.load()
        except DatabaseUnusable:
            raise CloseSpider(DATABASE_UNUSABLE_REASON) from None  # the store pipeline says why
        if self.render and self.chart_path and self.known.chart_due(self.chart_every_hours):
            # Not dont_filter: with a shared frontier one worker renders the chart, not each.
            yield Request(
                self.site_url + self.chart_path,
                callback=self.parse_chart,
                errback=self.on_error,
                meta=rendering.render_meta(CHART_READY),
                priority=LISTING_PRIORITY,
            )
        for section in self.sections:
            yield self._listing_request(self.site_url + listing_path(section), section, 1)
        if self.use_rss:
            yield Request(
                self.site_url + RSS_PATH,
                callback=self.parse_rss,
                errback=self.on_error,
                priority=LISTING_PRIORITY,
            )
        # A backfill walks every month since --since; a scheduled run reads the latest months,
        # whose lastmod dates reveal edits to articles it would not download again otherwise.
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

    def _listing_request(self, url: str, section: str, page: int) -> Request:
        return Request(
            url,
            callback=self.parse_listing,
            errback=self.on_error,
            cb_kwargs={"section": section, "page": page},
            priority=LISTING_PRIORITY,
        )

    def article_request(self, url: str, hops: int, modified_at: datetime | None = None) -> Request | None:
        """A Request for an article not decided against (its URL looked up in `known` first)."""
        return self._article_request(url, hops) if self._wanted(url, modified_at) else None

    def _wanted(self, url: str, modified_at: datetime | None = None) -> bool:
        """Whether to request this article (once per URL and run; marked requested if so)."""
        # Each article page links ~25 others, mostly seen already: deciding once per URL here
        # spares Scrapy a Request, a fingerprint, two signals and a dupefilter lookup each.
        # A stored article skipped once is skipped again, unless a sitemap now says it changed.
        if url in self._requested or (modified_at is None and url in self._skipped):
            return False
        if not is_article_url(url, self.site_url) or not self.known.should_fetch(url, modified_at):
            self._skipped.add(url)
            return False
        self._requested.add(url)
        return True

    def _article_request(self, url: str, hops: int) -> Request:
        return Request(
            url,
            callback=self.parse_article,
            errback=self.on_error,
            cb_kwargs={"hops": hops},
            priority=article_priority(hops),
            meta={rendering.ARTICLE_PAGE: True},
        )

    async def _entries(self, entries: list[ListingEntry]) -> AsyncIterator[Request]:
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
    async def parse_listing(self, response: Response, section: str, page: int) -> AsyncIterator[Any]:
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

    async def parse_rss(self, response: Response) -> AsyncIterator[Any]:
        self.crawler.stats.inc_value(key("pages", "feed"))
        async for request in self._entries(parse_rss(response)):
            yield request

    async def parse_sitemap(self, response: Response) -> AsyncIterator[Any]:
        self.crawler.stats.inc_value(key("pages", "feed"))
        entries, nested = parse_sitemap(response)
        if not entries and not nested:
            record_skip(self.crawler.stats, response.url, "empty_sitemap")
        async for request in self._entries(entries):
            yield request
        for url in self._nested_sitemaps_to_read(nested):
            yield Request(url, callback=self.parse_sitemap, errback=self.on_error, priority=LISTING_PRIORITY)

    def _nested_sitemaps_to_read(self, nested: list[str]) -> Iterator[str]:
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

    def backfill_sitemap_request(self, month: tuple[int, int]) -> Request:
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

    async def parse_backfill_sitemap(self, response: Response, month: tuple[int, int]) -> AsyncIterator[Any]:
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

    def on_backfill_error(self, failure: Failure) -> None:
        failures.record(self.crawler.stats, failure)
        request = getattr(failure, "request", None)
        month = request.meta.get("oilnews_month") if request is not None else None
        if self.backfill is not None and month is not None:
            missing = failures.classify(failure)[0] == "optional"  # no sitemap: nothing that month
            self.backfill.sitemap_failed(tuple(month), missing)

    async def parse_article(self, response: Response, hops: int) -> AsyncIterator[Any]:
        if not self._is_html(response):
            return
        self.crawler.stats.inc_value(key("pages", "article"))
        try:
            item = parse_article(response)
        except Exception:
            logger.exception("could not parse article %s", response.url)
            self.crawler.stats.inc_value(key("pages", "parse_error"))
            record_skip(self.crawler.stats, response.url, "parse_error")
            return
        # Without a body it still goes on: rendering.EmptyBodyRenderMiddleware may fetch it
        # through a browser, else validation drops it and the health check counts it.
        yield item
        if hops >= self.max_hops:
            return
        links = [link.url for link in item.links if link.kind in FOLLOW_KINDS]
        await self.known.look_up(links)  # those met before were looked up then: not asked again
        followed = 0
        for url in links:
            if self._wanted(url):
                if self._defer_links:
                    self._links[hops + 1].append(url)
                else:
                    yield self._article_request(url, hops + 1)
                followed += 1
                if followed >= self.max_follow:
                    # A real page links ~30 articles; thousands mean a hostile or broken page.
                    self.crawler.stats.inc_value(key("links", "follow_capped"))
                    break
        for request in self.linked_requests():
            yield request

    def linked_requests(self, force: bool = False) -> Iterator[Request]:
        """Deferred links as Requests, nearest hop first, while the scheduler runs low (or
        `force`: it is empty and the spider idle)."""
        try:
            scheduler = self.crawler.engine.scheduler
        except RuntimeError:  # no engine: a page parsed outside a crawl (the unit tests)
            scheduler = None
        queued = len(scheduler) if scheduler is not None and hasattr(scheduler, "__len__") else 0
        if not force and queued >= FRONTIER_LOW:
            return
        budget = FRONTIER_CHUNK
        for hops, urls in enumerate(self._links):
            while urls and budget:
                budget -= 1
                yield self._article_request(urls.popleft(), hops)

    def spider_idle(self) -> None:
        # Safety net: the callbacks refill the scheduler before it runs dry; a run whose last
        # responses were errors or listings gets the rest of its links here.
        requests = list(self.linked_requests(force=True))
        for request in requests:
            self.crawler.engine.crawl(request)
        if requests:
            raise DontCloseSpider

    def parse_chart(self, response: Response) -> Iterator[Any]:
        quotes = parse_chart(response)  # type: ignore[arg-type]
        self.crawler.stats.inc_value(key("render", "chart_points"), len(quotes))
        if not quotes:
            record_skip(self.crawler.stats, response.url, "empty_chart")
        yield from quotes

    def _ticker(self, response: TextResponse) -> Iterator[Any]:
        if self._ticker_done:
            return
        header = response.headers.get("Date")
        served_at = parse_http_date(header.decode("latin-1") if header else None) or datetime.now(UTC)
        quotes = parse_ticker(response, served_at)
        if quotes:
            self._ticker_done = True
            self.crawler.stats.inc_value(key("pages", "ticker"))
            yield from quotes

    def _is_html(self, response: Response) -> TypeGuard[TextResponse]:
        if isinstance(response, TextResponse) and response.body.strip():
            return True
        reason = "empty_page" if not response.body.strip() else "not_html"
        logger.warning("skipping %s: %s", response.url, reason.replace("_", " "))
        record_skip(self.crawler.stats, response.url, reason)
        return False

    def on_error(self, failure: Failure) -> list[Request]:
        failures.record(self.crawler.stats, failure)
        request = getattr(failure, "request", None)
        if self.backfill is not None and request is not None and failures.classify(failure)[0] == "gone":
            self.backfill.gone(request.url)  # a deleted article does not hold its month open
        return list(self.linked_requests())  # the scheduler may have run low meanwhile
