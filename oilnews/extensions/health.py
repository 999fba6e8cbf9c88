"""The health check at the end of a run: evaluates oilnews.health's table of monitors when
the spider closes, whether or not runs are recorded, and leaves the verdict in the stats
(`oilnews/health/ok`, `.../failures`), where the run recorder, the CLI and `scrapy crawl` read it."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

from oilnews.health import HEALTH_FAILURES_KEY, HEALTH_OK_KEY, evaluate

logger = logging.getLogger(__name__)


class HealthMonitor:
    """Evaluates MONITORS when the spider closes and leaves the verdict in the stats."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.result: dict[str, Any] = {}
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HealthMonitor:
        return cls(crawler)

    def spider_closed(self, spider: Any, reason: str) -> None:
        stats = self.crawler.stats
        assert stats is not None
        self.result = evaluate(stats.get_stats(), reason, self.crawler.settings)
        stats.set_value(HEALTH_OK_KEY, self.result["ok"])
        stats.set_value(HEALTH_FAILURES_KEY, list(self.result["failures"]))
        for failure in self.result["failures"]:
            logger.error("health check failed: %s", failure)
