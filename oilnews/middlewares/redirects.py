"""Redirect loops: a redirect back to a URL already in its chain is stopped and recorded."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urljoin

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from oilnews.stats import key, record_skip

logger = logging.getLogger(__name__)


class RedirectLoopMiddleware:
    """Stops a redirect back to a URL already in the chain, and records it.

    Left to RedirectMiddleware, the looping request would go to the scheduler and the
    dupefilter would drop it without a trace: a lost page with no record. This middleware
    sits nearer the downloader than RedirectMiddleware, so it sees the 3xx first.
    """

    def __init__(self, stats: Any) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedirectLoopMiddleware:
        return cls(crawler.stats)

    def process_response(self, request: Request, response: Response) -> Response:
        location = response.headers.get("Location")
        if not 300 <= response.status < 400 or not location:
            return response
        target = urljoin(request.url, location.decode("latin-1"))
        chain = [*request.meta.get("redirect_urls", ()), request.url]
        if target in chain:
            logger.error("request failed: %s (redirect loop)", chain[0])
            self.stats.inc_value(key("scope", "redirect_loop"))
            record_skip(self.stats, str(chain[0]), "redirect_loop")
            raise IgnoreRequest(f"redirect loop at {target}")
        return response
