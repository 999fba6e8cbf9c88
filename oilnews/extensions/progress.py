"""The progress line: one line on stderr every OILNEWS_PROGRESS_INTERVAL seconds (`oilnews crawl` turns it on)."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from oilnews.summary import progress_line, run_counts


class ProgressReporter:
    """One line on stderr every OILNEWS_PROGRESS_INTERVAL seconds (the CLI turns it on)."""

    def __init__(self, crawler: Crawler, interval: float) -> None:
        self.crawler = crawler
        self.interval = interval
        self.started = time.monotonic()
        self._task: asyncio.Task[None] | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressReporter:
        interval = crawler.settings.getfloat("OILNEWS_PROGRESS_INTERVAL")
        if interval <= 0:
            raise NotConfigured  # off unless the CLI asks: no warning for the normal case
        return cls(crawler, interval)

    def spider_opened(self, spider: Any) -> None:
        self.started = time.monotonic()
        self._task = asyncio.get_event_loop().create_task(self._loop())

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.report()

    def _queued(self) -> int | None:
        scheduler = self.crawler.engine.scheduler
        return len(scheduler) if scheduler is not None and hasattr(scheduler, "__len__") else None

    def report(self) -> None:
        assert self.crawler.stats is not None
        stats = self.crawler.stats.get_stats()
        line = progress_line(run_counts(stats), time.monotonic() - self.started, self._queued())
        print(line, file=sys.stderr, flush=True)
