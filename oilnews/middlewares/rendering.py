"""Browser rendering with scrapy-playwright, only where a page needs it.

A request asks for a browser with `meta["playwright"]`: the spider for pages that always need
one (the price chart); `ChallengeRenderMiddleware` when a plain response is a JavaScript
challenge (or OILNEWS_RENDER_ALWAYS is set); `EmptyBodyRenderMiddleware` when an article page
parses without a body, until rendering stops helping. OILNEWS_RENDER=false turns all of it off
and nothing of Playwright is loaded. Debian's Chromium is launched headless, off the
network's background services, with bounded contexts, pages and timeouts; images, fonts and
media are never downloaded.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.settings import BaseSettings

from oilnews.errors import require
from oilnews.items import ArticleItem
from oilnews.stats import key, record_skip
from oilnews.urls import same_origin

logger = logging.getLogger(__name__)

# Request meta keys: an article page (set by the spider), fetched through the browser, and why.
ARTICLE_PAGE = "oilnews_article"
RENDERED = "oilnews_rendered"
RENDER_REASON = "oilnews_render_reason"
# What a rendered article must show before its HTML is taken (waits for the script to finish).
ARTICLE_READY = "div.singleArticle__content #news-content p, div.singleArticle__content #article-content p"
# A challenge or a blocked page answers 403/503: the browser's answer must reach the parser.
RENDERED_STATUSES = [403, 503]

HANDLER = "oilnews.middlewares.browser_handler.LazyPlaywrightDownloadHandler"
# Chromium reaches out to Google services at start; this network refuses, many at a time.
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--metrics-recording-only",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-quic",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--mute-audio",
]
BLOCKED_RESOURCES = frozenset({"image", "font", "media"})
_CHALLENGE = re.compile(
    r"document\.cookie\s*=|just a moment|checking your browser|enable javascript and cookies|cf-chl", re.I
)


def chromium_path(settings: BaseSettings) -> str | None:
    configured = settings.get("OILNEWS_CHROMIUM_PATH") or ""
    # An explicit path is the only one tried: a wrong setting must show, not be papered over.
    candidates = (
        [configured]
        if configured
        else ["/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or ""]
    )
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def browser_settings(settings: BaseSettings) -> dict[str, Any]:
    """The settings that install the browser download handler, when rendering is on and a
    Chromium exists; OILNEWS_RENDER_AVAILABLE tells the spider whether it may render at all."""
    if not settings.getbool("OILNEWS_RENDER"):
        return {"OILNEWS_RENDER_AVAILABLE": False}
    executable = chromium_path(settings)
    if executable is None:
        return {"OILNEWS_RENDER_AVAILABLE": False}
    require("scrapy_playwright", "scrapy-playwright")
    args = list(CHROMIUM_ARGS)
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to start its sandbox as root
    return {
        "DOWNLOAD_HANDLERS": {"http": HANDLER, "https": HANDLER},
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {
            "executable_path": executable,
            "headless": True,
            "args": args,
            "timeout": 30_000,
        },
        "PLAYWRIGHT_MAX_CONTEXTS": settings.getint("OILNEWS_RENDER_MAX_CONTEXTS"),
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": settings.getint("OILNEWS_RENDER_MAX_PAGES"),
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": settings.getint("OILNEWS_RENDER_TIMEOUT_MS"),
        "PLAYWRIGHT_ABORT_REQUEST": SiteOnlyBrowser(str(settings.get("OILNEWS_SITE_URL"))),
        "OILNEWS_RENDER_AVAILABLE": True,
    }


def should_abort(request: Any) -> bool:
    """Images, fonts and media never help extraction: the browser does not fetch them."""
    return str(request.resource_type) in BLOCKED_RESOURCES


class SiteOnlyBrowser:
    """scrapy-playwright's PLAYWRIGHT_ABORT_REQUEST: every request of a rendered page (its
    navigations, scripts, style sheets, frames, fetch() calls) that is not to the crawl's own
    site (scheme, host and port: the scope rule of every fetch) is aborted, as are images,
    fonts and media; scrapy-playwright counts them (`playwright/request_count/aborted`)."""

    def __init__(self, site_url: str) -> None:
        self.site_url = site_url

    def __call__(self, request: Any) -> bool:
        return should_abort(request) or not same_origin(str(request.url), self.site_url)


def is_challenge(response: Any) -> bool:
    """A JavaScript check in place of the page: small, scripted, no article markup."""
    body = getattr(response, "text", "")
    if not body or len(body) > 50_000 or "singleArticle" in body or "categoryArticle" in body:
        return False
    return bool(_CHALLENGE.search(body))


def render_meta(wait_for: str | None = None, idle: bool = False) -> dict[str, Any]:
    """Request meta for a rendered fetch; `wait_for` is a CSS selector the page must show,
    `idle` waits for the network to go quiet instead (a page that may legitimately stay empty)."""
    from scrapy_playwright.page import PageMethod

    meta: dict[str, Any] = {"playwright": True, RENDERED: True}
    if wait_for:
        meta["playwright_page_methods"] = [PageMethod("wait_for_selector", wait_for, timeout=15_000)]
    elif idle:
        meta["playwright_page_methods"] = [PageMethod("wait_for_load_state", "networkidle", timeout=15_000)]
    return meta


def rendered_request(request: Request, reason: str) -> Request:
    """The same page again through the browser. A challenge reloads itself: wait for the
    article. A script-built body is there once the network is quiet, and a page that stays
    empty must not cost a selector timeout."""
    meta = render_meta(ARTICLE_READY if reason == "challenge" else None, idle=reason != "challenge")
    meta.update({ARTICLE_PAGE: True, "handle_httpstatus_list": RENDERED_STATUSES, RENDER_REASON: reason})
    return request.replace(meta=meta, dont_filter=True)


class ChallengeRenderMiddleware:
    """Downloader middleware: a JavaScript challenge in place of a page is fetched again
    through the browser (once); with OILNEWS_RENDER_ALWAYS every article page is."""

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        self.site_url = str(crawler.settings.get("OILNEWS_SITE_URL"))
        self.available = crawler.settings.getbool("OILNEWS_RENDER_AVAILABLE")
        self.always = self.available and crawler.settings.getbool("OILNEWS_RENDER_ALWAYS")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ChallengeRenderMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if self.always and request.meta.get(ARTICLE_PAGE) and not request.meta.get(RENDERED):
            request.meta.update(render_meta(ARTICLE_READY))
            request.meta["handle_httpstatus_list"] = RENDERED_STATUSES

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if request.meta.get(RENDERED) and not same_origin(response.url, self.site_url):
            # A script sent the browser elsewhere: that page is no article of this site.
            self.stats.inc_value(key("render", "offsite"))
            record_skip(self.stats, request.url, "rendered_offsite")
            raise IgnoreRequest(f"{request.url}: the browser was sent off the site, to {response.url}")
        if not is_challenge(response):
            return response
        if request.meta.get(RENDERED):
            record_skip(self.stats, request.url, "challenge_after_render")
        elif not self.available:
            self.stats.inc_value(key("render", "unavailable"))
            record_skip(self.stats, request.url, "challenge_needs_browser")
        else:
            self.stats.inc_value(key("render", "challenge"))
            return rendered_request(request, "challenge")
        raise IgnoreRequest(f"{request.url}: a JavaScript challenge")


class EmptyBodyRenderMiddleware:
    """Spider middleware: an article parsed without a body is fetched again through the
    browser before it is judged (the body may arrive by script), unless rendering has
    stopped helping. A layout change leaves every body empty, in the browser too; then each
    page would cost a browser, so after 5 renders that mostly found nothing it stops."""

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        self.available = crawler.settings.getbool("OILNEWS_RENDER_AVAILABLE")
        self.outcomes = {True: 0, False: 0}  # empty-body renders that found a body / did not
        self.closed = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EmptyBodyRenderMiddleware:
        return cls(crawler)

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterator[Any]:
        for element in result:
            yield self._replace(response, element)

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for element in result:
            yield self._replace(response, element)

    def _replace(self, response: Response, element: Any) -> Any:
        if not isinstance(element, ArticleItem):
            return element
        if response.meta.get(RENDER_REASON) == "empty_body":
            self.outcomes[bool(element.body)] += 1
            return element
        if element.body_source != "none" or response.meta.get(RENDERED):
            return element
        if not self.available:
            self.stats.inc_value(key("render", "unavailable"))
            record_skip(self.stats, response.url, "empty_body_needs_browser")
            return element
        if not self._open() or response.request is None:
            return element
        self.stats.inc_value(key("render", "empty_body"))
        return rendered_request(response.request, "empty_body")

    def _open(self) -> bool:
        failed, helped = self.outcomes[False], self.outcomes[True]
        if failed >= 5 and failed > 4 * helped:
            if not self.closed:
                self.closed = True
                logger.error(
                    "rendering recovered %d of %d empty article bodies: no more rendering for "
                    "empty bodies in this run (has the page layout changed?)",
                    helped,
                    failed + helped,
                )
            return False
        return True
