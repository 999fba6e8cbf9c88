"""Retries that wait first: Retry-After when the server sends one, exponential backoff otherwise."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.http import Response
from scrapy.settings import BaseSettings
from scrapy.utils.response import response_status_message

from oilnews.dates import parse_http_date
from oilnews.stats import key

logger = logging.getLogger(__name__)


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
