"""Scope: only the crawl's own site (scheme, host and port) is requested, redirects included."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

from oilnews.stats import key, record_skip
from oilnews.urls import origin, same_origin

logger = logging.getLogger(__name__)


class SiteScopeMiddleware:
    """Only the configured site (scheme, host and port) is ever requested.

    It sits in the downloader chain, so it also sees the new request a redirect creates:
    a redirect to another host, port or scheme is refused like any other link.
    """

    def __init__(self, site_url: str, stats: Any) -> None:
        if origin(site_url) is None:
            raise ValueError(f"OILNEWS_SITE_URL is not an http(s) URL: {site_url!r}")
        self.site_url = site_url
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SiteScopeMiddleware:
        return cls(crawler.settings.get("OILNEWS_SITE_URL"), crawler.stats)

    def process_request(self, request: Request) -> None:
        if same_origin(request.url, self.site_url):
            return
        redirects = request.meta.get("redirect_urls") or ()
        reason = "redirect_offsite" if redirects else "offsite"
        logger.warning("refusing %s request to %s (outside %s)", reason, request.url, self.site_url)
        self.stats.inc_value(key("scope", reason))
        # A redirect is recorded under the page of ours that led off the site.
        record_skip(self.stats, str(redirects[0]) if redirects else request.url, reason)
        raise IgnoreRequest(f"{request.url} is outside {self.site_url}")
