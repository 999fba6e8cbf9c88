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

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.http import Request, Response


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

                handler = ScrapyPlaywrightDownloadHandler.from_crawler(self._crawler)
                await handler._launch()  # the engine_started signal it waits for is long past
                self._browser_handler = handler
        return self._browser_handler

    async def close(self) -> None:
        if self._browser_handler is not None:
            await self._browser_handler.close()
        await super().close()
