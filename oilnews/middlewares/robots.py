"""robots.txt: Scrapy's middleware, with every request that waited for the download checked."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached

from oilnews.stats import key

logger = logging.getLogger(__name__)


class RobotsTxtMiddleware(ScrapyRobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, with every waiting request checked.

    Requests that arrive while robots.txt is still downloading all await one Deferred; in
    Scrapy 2.19 only the first of them receives the parser, the others get None and pass
    unchecked (seen here: start requests to disallowed sections were fetched). The first
    waiter keeps the parser here, before the others resume, and they read it back.
    """

    # Google reads the first 500 KiB of a robots.txt; rules past that are ignored, and a huge
    # file would make every request's check walk thousands of rules.
    MAX_BYTES = 512 * 1024

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._received: dict[str, Any] = {}

    def process_response(self, request: Request, response: Response) -> Response:
        if not request.meta.get("dont_obey_robotstxt") or urlparse_cached(request).path != "/robots.txt":
            return response
        if response.status >= 500:
            logger.warning(
                "%s answered %d: crawling as if it allowed everything (Scrapy's rule)",
                request.url,
                response.status,
            )
            self.crawler.stats.inc_value(key("robots", "unavailable"))
        if len(response.body) > self.MAX_BYTES:
            head = response.body[: self.MAX_BYTES]
            logger.warning(
                "%s is %d bytes: only its first %d are read", request.url, len(response.body), len(head)
            )
            self.crawler.stats.inc_value(key("robots", "truncated"))
            return response.replace(body=head[: head.rfind(b"\n") + 1] or head)
        return response

    async def robot_parser(self, request: Request) -> Any:
        parser = await super().robot_parser(request)
        netloc = urlparse_cached(request).netloc
        if parser is not None:
            self._received[netloc] = parser
            return parser
        return self._received.get(netloc)
