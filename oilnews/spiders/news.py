"""The `news` spider: which pages to request and which parser reads each. Nothing else.

Its routes for listings and the feed (spiders.listings) and for sitemaps (spiders.sitemaps)
are mixins; which article URLs to request, the link frontier (spiders.frontier). Parsing lives
in oilnews.pages, the settings it derives in oilnews.addons, the browser fallbacks in
oilnews.middlewares.rendering, error reasons in oilnews.spiders.failures, what is already
stored in oilnews.extensions.known.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any, TypeGuard

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DontCloseSpider
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from oilnews import config
from oilnews.dates import months_ago, parse_user_instant
from oilnews.errors import DatabaseUnusable
from oilnews.extensions.backfill import Backfill
from oilnews.extensions.known import KnownIndex
from oilnews.health import DATABASE_UNUSABLE_REASON
from oilnews.middlewares import rendering
from oilnews.pages.article import parse_article
from oilnews.pages.chart import parse_chart
from oilnews.seen import DigestSet
from oilnews.site import RSS_PATH, listing_path
from oilnews.spiders import failures
from oilnews.spiders.frontier import LISTING_PRIORITY, LinkFrontier, article_priority
from oilnews.spiders.listings import ListingRoutes
from oilnews.spiders.sitemaps import SitemapRoutes
from oilnews.stats import key, record_skip

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
CHART_READY = "#chart-data tr"  # what the rendered chart page shows once its script has run


class NewsSpider(ListingRoutes, SitemapRoutes, Spider):
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
        self.since = parse_user_instant(since) if since else None
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
        self._listed = DigestSet()  # article URLs the listing pages named
        shared = bool(settings.get("OILNEWS_REDIS_URL"))  # a shared frontier: links go to Redis at once
        self.frontier = LinkFrontier(self.known, self.site_url, self.max_hops, defer=not shared)

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
        for request in self.sitemap_requests():
            yield request

    def article_request(self, url: str, hops: int, modified_at: datetime | None = None) -> Request | None:
        """A Request for an article not decided against (its URL looked up in `known` first)."""
        return self._article_request(url, hops) if self._wanted(url, modified_at) else None

    def _wanted(self, url: str, modified_at: datetime | None = None) -> bool:
        """Whether to request this article (the frontier decides, once per URL and run)."""
        return self.frontier.wanted(url, modified_at)

    def _article_request(self, url: str, hops: int) -> Request:
        return Request(
            url,
            callback=self.parse_article,
            errback=self.on_error,
            cb_kwargs={"hops": hops},
            priority=article_priority(hops),
            meta={rendering.ARTICLE_PAGE: True},
        )

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
                if self.frontier.defer:
                    self.frontier.wait(url, hops + 1)
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
        """Waiting links as Requests while the scheduler runs low (or `force`: it is empty and
        the spider idle)."""
        try:
            scheduler = self.crawler.engine.scheduler
        except RuntimeError:  # no engine: a page parsed outside a crawl (the unit tests)
            scheduler = None
        queued = len(scheduler) if scheduler is not None and hasattr(scheduler, "__len__") else 0
        for url, hops in self.frontier.take(queued, force):
            yield self._article_request(url, hops)

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
