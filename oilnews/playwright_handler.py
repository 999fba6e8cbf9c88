"""scrapy-playwright's download handler, started at the first rendered request.

The stock handler starts the Playwright driver when the engine starts, in every crawl that
has it installed. Most scheduled runs render nothing (no challenge, no empty body, the chart
not due), so here the driver starts only when a request actually asks for a browser.
Imported only when rendering is configured (oilnews.rendering).
"""

from __future__ import annotations

import asyncio
from typing import Any

from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler


class LazyPlaywrightDownloadHandler(ScrapyPlaywrightDownloadHandler):  # type: ignore[misc]
    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self._start_lock = asyncio.Lock()

    async def _maybe_launch_in_thread(self) -> None:
        return None  # engine started: nothing to render yet

    async def _download_request(self, request: Any, spider: Any = None) -> Any:
        async with self._start_lock:
            if getattr(self, "browser_provider", None) is None:
                await self._launch()
        return await super()._download_request(request, spider)
