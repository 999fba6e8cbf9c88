"""The `news` spider: routes requests, nothing else. Parsing lives in oilnews.pages."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator, Generator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.settings import BaseSettings
from twisted.python.failure import Failure

from oilnews import distributed, rendering
from oilnews.dates import parse_since
from oilnews.items import ListingEntry
from oilnews.known import KnownIndex
from oilnews.pages.article import parse_article
from oilnews.pages.chart import parse_chart
from oilnews.pages.feeds import parse_rss, parse_sitemap
from oilnews.pages.listing import parse_listing
from oilnews.pages.ticker import parse_ticker
from oilnews.site import RSS_PATH, listing_path, sitemap_path
from oilnews.stats import key, record_skip
from oilnews.urls import is_article_url

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
# What a rendered page must show before its HTML is taken (waits for the script to finish).
ARTICLE_READY = "div.singleArticle__content #news-content p, div.singleArticle__content #article-content p"
CHART_READY = "#chart-data tr"
LISTED_PRIORITY = 10
LISTING_PRIORITY = 5


def article_priority(hops: int) -> int:
    return LISTED_PRIORITY if hops == 0 else LISTING_PRIORITY - hops


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _months_ago(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 - max(0, months)
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def _months(since: datetime, until: datetime) -> Iterator[tuple[int, int]]:
    year, month = since.year, since.month
    while (year, month) <= (until.year, until.month):
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


class NewsSpider(Spider):
    name = "news"

    # Spider arguments (`-a since=2024-01`, scrapyd's schedule.json) and the settings they set.
    # They are written into the settings before those freeze, so the middlewares, extensions
    # and this spider all read one value.
    ARGUMENTS = {
        "site": "OILNEWS_SITE_URL",
        "sections": "OILNEWS_SECTIONS",
        "max_pages": "OILNEWS_MAX_PAGES",
        "max_hops": "OILNEWS_MAX_HOPS",
        "since": "OILNEWS_SINCE",
        "rss": "OILNEWS_USE_RSS",
        "full": "OILNEWS_FULL",
    }

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        spider: NewsSpider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        for argument, setting in cls.ARGUMENTS.items():
            if kwargs.get(argument) not in (None, ""):
                settings.set(setting, kwargs[argument], priority="cmdline")
        cls._relax_for_replica(settings)
        distributed.configure(settings)
        rendering.configure(settings)
        spider.configure(settings)
        return spider

    @staticmethod
    def _relax_for_replica(settings: BaseSettings) -> None:
        polite = str(settings.get("OILNEWS_POLITE", "auto")).lower()
        if polite == "false" or (polite == "auto" and _is_loopback(settings.get("OILNEWS_SITE_URL"))):
            # A local replica: no reason to wait between requests. Command-line -s still wins.
            for name, value in (
                ("DOWNLOAD_DELAY", 0),
                ("AUTOTHROTTLE_ENABLED", False),
                ("DOWNLOAD_DELAY_JITTER", 0),
                ("CONCURRENT_REQUESTS", 32),
                ("CONCURRENT_REQUESTS_PER_DOMAIN", 32),
            ):
                settings.set(name, value, priority="spider")

    def configure(self, settings: BaseSettings) -> None:
        self.site_url = str(settings.get("OILNEWS_SITE_URL")).rstrip("/")
        sections = settings.get("OILNEWS_SECTIONS")
        if isinstance(sections, str):
            sections = sections.split(",")
        self.sections = [s.strip().strip("/") for s in sections if s.strip()]
        self.max_pages = settings.getint("OILNEWS_MAX_PAGES")
        self.max_hops = settings.getint("OILNEWS_MAX_HOPS")
        self.max_follow = settings.getint("OILNEWS_MAX_FOLLOW_PER_PAGE")
        self.render = settings.getbool("OILNEWS_RENDER_AVAILABLE")
        self.render_always = self.render and settings.getbool("OILNEWS_RENDER_ALWAYS")
        self.chart_path = settings.get("OILNEWS_CHART_PATH") or ""
        self.chart_every_hours = settings.getfloat("OILNEWS_CHART_EVERY_HOURS")
        self.use_rss = settings.getbool("OILNEWS_USE_RSS")
        since = settings.get("OILNEWS_SINCE")
        self.since = parse_since(since) if since else None
        self.sitemap_lookback = settings.getint("OILNEWS_SITEMAP_LOOKBACK_MONTHS")
        self.known = KnownIndex.for_crawler(self.crawler)
        self._ticker_done = False
        self._requested: set[str] = set()  # article URLs requested this run
        self._body_renders = {True: 0, False: 0}  # empty-body renders that found a body / did not
        self._body_fallback_closed = False
        self._always_rendered = (
            {**rendering.render_meta(ARTICLE_READY), "handle_httpstatus_list": [403, 503]}
            if self.render_always
            else {}
        )
        self._skipped: set[str] = set()  # ... and those decided against

    # -- requests ---------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Request]:
        await self.known.load()
        chart_due = self.known.chart_fetched_at is None or (
            datetime.now(UTC) - self.known.chart_fetched_at > timedelta(hours=self.chart_every_hours)
        )
        if self.render and self.chart_path and chart_due:
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
            first = _months_ago(now, self.sitemap_lookback - 1)
        if first is not None:
            for year, month in _months(first, now):
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
        # Each article page links ~25 others, mostly seen already: deciding once per URL here
        # spares Scrapy a Request, a fingerprint, two signals and a dupefilter lookup each.
        # A stored article skipped once is skipped again, unless a sitemap now says it changed.
        if url in self._requested or (modified_at is None and url in self._skipped):
            return None
        if not is_article_url(url, self.site_url) or not self.known.should_fetch(url, modified_at):
            self._skipped.add(url)
            return None
        self._requested.add(url)
        return Request(
            url,
            callback=self.parse_article,
            errback=self.on_error,
            cb_kwargs={"hops": hops},
            priority=article_priority(hops),
            meta=self._always_rendered,
        )

    def _entries(self, entries: list[ListingEntry]) -> Iterator[Request]:
        for entry in entries:
            if self.since is not None and entry.listed_at is not None and entry.listed_at < self.since:
                continue
            request = self.article_request(entry.url, hops=0, modified_at=entry.modified_at)
            if request is not None:
                yield request

    # -- callbacks --------------------------------------------------------------------------
    def parse_listing(self, response: Response, section: str, page: int) -> Iterator[Any]:
        if not self._is_html(response):
            return
        self.crawler.stats.inc_value(key("pages", "listing"))
        listing = parse_listing(response)
        if not listing.entries:
            record_skip(self.crawler.stats, response.url, "empty_listing")
        yield from self._ticker(response)
        yield from self._entries(listing.entries)
        dated = [e.listed_at for e in listing.entries if e.listed_at is not None]
        older = self.since is not None and bool(dated) and max(dated) < self.since
        at_limit = bool(self.max_pages) and page >= self.max_pages
        exhausted = self.known.listing_exhausted([(e.url, e.listed_at) for e in listing.entries])
        if exhausted:
            self.crawler.stats.inc_value(key("listing", "stopped_at_known"))
        if listing.next_url and not older and not at_limit and not exhausted:
            yield self._listing_request(listing.next_url, section, page + 1)

    def parse_rss(self, response: Response) -> Iterator[Any]:
        self.crawler.stats.inc_value(key("pages", "feed"))
        yield from self._entries(parse_rss(response))

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        self.crawler.stats.inc_value(key("pages", "feed"))
        entries, nested = parse_sitemap(response)
        if not entries and not nested:
            record_skip(self.crawler.stats, response.url, "empty_sitemap")
        yield from self._entries(entries)
        for url in nested:
            yield Request(url, callback=self.parse_sitemap, errback=self.on_error, priority=LISTING_PRIORITY)

    def parse_article(self, response: Response, hops: int) -> Iterator[Any]:
        if not self._is_html(response):
            return
        if rendering.is_challenge(response):
            yield from self._rendered(response, hops, "challenge")
            return
        self.crawler.stats.inc_value(key("pages", "article"))
        try:
            item = parse_article(response)
        except Exception:
            logger.exception("could not parse article %s", response.url)
            self.crawler.stats.inc_value(key("pages", "parse_error"))
            record_skip(self.crawler.stats, response.url, "parse_error")
            return
        if item.body_source == "none":
            if response.meta.get("oilnews_render_reason") == "empty_body":
                self._body_renders[bool(item.body)] += 1
            elif (
                not response.meta.get("oilnews_rendered")
                and self._body_fallback_open()
                and (yield from self._rendered(response, hops, "empty_body"))
            ):
                return  # the body may arrive by script: a browser tries before the item is judged
        elif response.meta.get("oilnews_render_reason") == "empty_body":
            self._body_renders[True] += 1
        yield item  # still without a body: validation drops it and the health check counts it
        if hops >= self.max_hops:
            return
        followed = 0
        for link in item.links:
            if link.kind in FOLLOW_KINDS:
                request = self.article_request(link.url, hops + 1)
                if request is not None:
                    yield request
                    followed += 1
                    if followed >= self.max_follow:
                        # A real page links ~30 articles; thousands mean a hostile or broken page.
                        self.crawler.stats.inc_value(key("links", "follow_capped"))
                        break

    def _body_fallback_open(self) -> bool:
        """Render empty articles, unless rendering has stopped helping (a layout change
        leaves every body empty, in the browser too: then each page would cost a browser)."""
        failed, helped = self._body_renders[False], self._body_renders[True]
        if failed >= 5 and failed > 4 * helped:
            if not self._body_fallback_closed:
                self._body_fallback_closed = True
                logger.error(
                    "rendering recovered %d of %d empty article bodies: no more rendering for "
                    "empty bodies in this run (has the page layout changed?)",
                    helped,
                    failed + helped,
                )
            return False
        return True

    def _rendered(self, response: Response, hops: int, reason: str) -> Generator[Request, None, bool]:
        """The same page again, through the browser (once; never for an already rendered one).
        Returns whether it was asked for; if not, the reason is recorded."""
        stats = self.crawler.stats
        if response.meta.get("oilnews_rendered"):
            record_skip(stats, response.url, f"{reason}_after_render")
            return False
        if not self.render:
            stats.inc_value(key("render", "unavailable"))
            record_skip(stats, response.url, f"{reason}_needs_browser")
            return False
        stats.inc_value(key("render", reason))
        # A challenge reloads itself: wait for the article. A script-built body is there once
        # the network is quiet, and a page that stays empty must not cost a selector timeout.
        meta = rendering.render_meta(
            ARTICLE_READY if reason == "challenge" else None, idle=reason != "challenge"
        )
        yield response.request.replace(  # type: ignore[union-attr]
            meta={**meta, "handle_httpstatus_list": [403, 503], "oilnews_render_reason": reason},
            dont_filter=True,
            cb_kwargs={"hops": hops},
        )
        return True

    def parse_chart(self, response: Response) -> Iterator[Any]:
        quotes = parse_chart(response)  # type: ignore[arg-type]
        self.crawler.stats.inc_value(key("render", "chart_points"), len(quotes))
        if not quotes:
            record_skip(self.crawler.stats, response.url, "empty_chart")
        yield from quotes

    def _ticker(self, response: Response) -> Iterator[Any]:
        if self._ticker_done:
            return
        quotes = parse_ticker(response, self._server_time(response))  # type: ignore[arg-type]
        if quotes:
            self._ticker_done = True
            self.crawler.stats.inc_value(key("pages", "ticker"))
            yield from quotes

    @staticmethod
    def _server_time(response: Response) -> datetime:
        header = response.headers.get("Date")
        if header:
            try:
                return parsedate_to_datetime(header.decode("latin-1")).astimezone(UTC)
            except (TypeError, ValueError):
                pass
        return datetime.now(UTC)

    def _is_html(self, response: Response) -> TypeGuard[TextResponse]:
        if isinstance(response, TextResponse) and response.body.strip():
            return True
        reason = "empty_page" if not response.body.strip() else "not_html"
        logger.warning("skipping %s: %s", response.url, reason.replace("_", " "))
        record_skip(self.crawler.stats, response.url, reason)
        return False

    def on_error(self, failure: Failure) -> Iterator[Request]:
        request = getattr(failure, "request", None)
        url = request.url if request is not None else "?"
        http = getattr(failure.value, "response", None)
        if http is not None and request is not None and rendering.is_challenge(http):
            yield from self._rendered(http, request.cb_kwargs.get("hops", 0), "challenge")
            return
        if http is not None and http.status == 404 and request is not None and request.meta.get("optional"):
            logger.info("no %s on the site (404)", url)
            self.crawler.stats.inc_value(key("optional_missing"))
            return
        if isinstance(failure.value, IgnoreRequest) and http is None:
            if "max redirections" in str(failure.value):
                logger.error("request failed: %s (too many redirects)", url)
                record_skip(self.crawler.stats, url, "redirect_limit")
                return
            # robots.txt or the site scope said no; both already counted where they decided
            self.crawler.stats.inc_value(key("ignored"))
            return
        reason = failure.type.__name__ if failure.type else "error"
        if http is not None:
            reason = f"http_{http.status}"
        logger.error("request failed: %s (%s)", url, reason)
        self.crawler.stats.inc_value(key("request_failed", reason))
        record_skip(self.crawler.stats, url, reason)
