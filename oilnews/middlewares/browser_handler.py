"""Plain HTTP for ordinary requests; a browser only for requests that ask for one.

scrapy-playwright's handler takes over http/https and starts its Playwright driver when
the engine starts, so every crawl that has it installed pays for importing and starting
Playwright. Most scheduled runs render nothing (no challenge, no empty body, the chart
not due); this handler serves them with Scrapy's own HTTP/1.1 handler and imports,
builds and starts scrapy-playwright's only at the first `meta["playwright"]` request.
"""

from __future__ import annotations

import asyncio
from typing import Any

from scrapy import signals
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.http import Request, Response
from scrapy.signalmanager import SignalManager


class _LateCrawler:
    """The crawler as scrapy-playwright's handler sees it, but with signals of its own.

    The handler launches Playwright on `engine_started`, which fired long before the first
    rendered request. Its own SignalManager lets us send it that signal when we need the
    browser, through the public signal API, without re-sending it to every other component.
    """

    def __init__(self, crawler: Crawler) -> None:
        self._crawler = crawler
        self.signals = SignalManager(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._crawler, name)


class LazyPlaywrightDownloadHandler(HTTP11DownloadHandler):
    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._crawler = crawler
        self._browser_handler: Any = None
        self._start_lock = asyncio.Lock()

    async def download_request(self, request: Request) -> Response:
        if not request.meta.get("playwright"):
            return await super().download_request(request)
        handler = await self._browser()
        return await handler.download_request(request)  # type: ignore[no-any-return]

    async def _browser(self) -> Any:
        async with self._start_lock:
            if self._browser_handler is None:
                from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

                late = _LateCrawler(self._crawler)
                handler = ScrapyPlaywrightDownloadHandler.from_crawler(late)
                for _receiver, outcome in await late.signals.send_catch_log_async(signals.engine_started):
                    if isinstance(outcome, BaseException):
                        raise outcome  # Chromium did not start: this request fails, the next tries again
                self._browser_handler = handler
        return self._browser_handler

    async def close(self) -> None:
        if self._browser_handler is not None:
            await self._browser_handler.close()
        await super().close()
