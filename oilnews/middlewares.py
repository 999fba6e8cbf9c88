"""Downloader middlewares."""

from __future__ import annotations

import asyncio
import codecs
import logging
import random
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Response
from scrapy.settings import BaseSettings
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.response import response_status_message
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding

from oilnews.dates import parse_http_date
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


def retry_delay(attempt: int, retry_after: str | None, base: float, cap: float) -> float:
    """Seconds to wait before retry number `attempt` (1-based).

    A server's Retry-After (seconds or an HTTP date) is honoured up to `cap`; otherwise
    exponential backoff from `base`, with jitter so that retries of many requests spread out.
    """
    if retry_after:
        value = retry_after.strip()
        seconds: float | None = None
        if value.isdigit():
            seconds = float(value)
        elif (moment := parse_http_date(value)) is not None:
            seconds = (moment - datetime.now(UTC)).total_seconds()
        if seconds is not None:
            return min(max(0.0, seconds), cap)
    return float(min(cap, base * 2 ** (attempt - 1))) * random.uniform(0.75, 1.25)


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry, but waiting before each retry: Retry-After when the server sends one,
    exponential backoff otherwise. A server that is failing gets room to recover instead of
    three immediate hits. Given-up requests reach the spider's errback, which records them."""

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.base = settings.getfloat("OILNEWS_RETRY_BACKOFF_BASE")
        self.cap = settings.getfloat("OILNEWS_RETRY_BACKOFF_MAX")

    async def _wait(self, request: Request, retry_after: str | None) -> None:
        attempt = int(request.meta.get("retry_times", 0)) + 1
        delay = retry_delay(attempt, retry_after, self.base, self.cap)
        if delay > 0:
            self.crawler.stats.inc_value(key("retry", "waits"))
            await asyncio.sleep(delay)

    def _retry_request(self, request: Request, reason: str | Exception) -> Request | None:
        assert self.crawler.spider is not None
        return get_retry_request(
            request,
            spider=self.crawler.spider,
            reason=reason,
            max_retry_times=request.meta.get("max_retry_times", self.max_retry_times),
            priority_adjust=request.meta.get("priority_adjust", self.priority_adjust),
            give_up_log_level=request.meta.get("give_up_log_level", self.give_up_log_level),
        )

    async def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        retry = self._retry_request(request, response_status_message(response.status))
        if retry is None:
            return response
        header = response.headers.get("Retry-After")
        await self._wait(request, header.decode("latin-1") if header else None)
        return retry

    async def process_exception(self, request: Request, exception: Exception) -> Request | Response | None:  # type: ignore[override]
        if not isinstance(exception, self.exceptions_to_retry) or request.meta.get("dont_retry", False):
            return None
        retry = self._retry_request(request, exception)
        if retry is not None:
            await self._wait(request, None)
        return retry


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


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


class Utf8CharsetMiddleware:
    """Text decoded by what its bytes are, when the HTTP header and the page disagree.

    Scrapy believes the Content-Type header first. A server that says `charset=iso-8859-1`
    for a page whose bytes are UTF-8 (and whose own `<meta charset>` says so, or says nothing)
    would be stored as mojibake ("OPECâ€™s"). Valid UTF-8 with non-ASCII bytes is practically
    never meant as Latin-1, so then UTF-8 wins, and the choice is counted.
    """

    def __init__(self, stats: Any) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Utf8CharsetMiddleware:
        return cls(crawler.stats)

    def process_response(self, request: Request, response: Response) -> Response:
        if not isinstance(response, HtmlResponse):
            return response
        header = _codec(
            http_content_type_encoding((response.headers.get("Content-Type") or b"").decode("latin-1"))
        )
        if header in (None, "utf-8"):
            return response
        declared = _codec(html_body_declared_encoding(response.body))
        if declared not in (None, "utf-8") or response.body.isascii():
            return response
        try:
            response.body.decode("utf-8")
        except UnicodeDecodeError:
            return response
        self.stats.inc_value(key("charset", "utf8_over_header"))
        logger.debug("%s: bytes are UTF-8, header says %s: decoded as UTF-8", response.url, header)
        return response.replace(encoding="utf-8")
