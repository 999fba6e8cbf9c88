"""The `crawl_runs` record: a row opened as running when a crawl starts, closed with its counts, health verdict and stats."""

from __future__ import annotations

import json
import logging
import resource
from datetime import timedelta
from typing import Any, cast

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from oilnews.dates import json_value
from oilnews.errors import DatabaseUnusable
from oilnews.extensions.alerts import Alerter
from oilnews.extensions.distributed import worker_name
from oilnews.extensions.health import HealthMonitor
from oilnews.health import evaluate, run_status
from oilnews.logs import first_line, mask_secrets
from oilnews.middlewares.warc import WarcCaptureMiddleware
from oilnews.stats import key
from oilnews.storage.database import Database
from oilnews.storage.models import utcnow
from oilnews.storage.runs import abandon_stale_runs, finish_run, start_run
from oilnews.summary import run_counts

logger = logging.getLogger(__name__)


RUN_ID_KEY = key("run_id")
PEAK_RSS_KEY = key("peak_rss_bytes")


def _jsonable_stats(stats: dict[str, Any]) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        return mask_secrets(value) if isinstance(value, str) else value

    return cast(
        dict[str, Any],
        json.loads(
            json.dumps(stats, default=lambda v: str(json_value(v))),
            object_hook=lambda d: {k: convert(v) for k, v in d.items()},
        ),
    )


class CrawlRunRecorder:
    """A `crawl_runs` row per crawl: opened as running, closed with counts, health and stats."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.run_id: int | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlRunRecorder:
        if not crawler.settings.getbool("OILNEWS_RECORD_RUNS"):
            raise NotConfigured
        return cls(crawler)

    @property
    def database(self) -> Database:
        return Database.of(self.crawler)

    async def spider_opened(self, spider: Any) -> None:
        site = self.crawler.settings.get("OILNEWS_SITE_URL")
        stale = utcnow() - timedelta(hours=self.crawler.settings.getfloat("OILNEWS_RUN_STALE_HOURS"))

        group = self.crawler.settings.get("OILNEWS_REDIS_PREFIX") or None
        worker = worker_name() if group else None

        def begin(conn: Any) -> int:
            abandon_stale_runs(conn, stale)
            return start_run(conn, spider.name, site, group, worker)

        try:
            self.run_id = await self.database.run(begin)
        except DatabaseUnusable:
            return  # the store pipeline says so and closes the spider
        assert self.crawler.stats is not None
        self.crawler.stats.set_value(RUN_ID_KEY, self.run_id)

    async def spider_closed(self, spider: Any, reason: str) -> None:
        if self.run_id is None:
            return
        alerter = self.crawler.get_extension(Alerter)
        if alerter is not None:
            await alerter.finished.wait()  # bounded by OILNEWS_ALERT_TIMEOUT per channel
        capture = self.crawler.get_downloader_middleware(WarcCaptureMiddleware)
        if capture is not None:
            await capture.finished.wait()  # its last records written: the files' final figures
        assert self.crawler.stats is not None
        # The crawler's own peak (its process alone: a browser's processes are not in it),
        # exact at the end, where Scrapy's memusage/max is sampled once a minute.
        self.crawler.stats.set_value(PEAK_RSS_KEY, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
        stats = self.crawler.stats.get_stats()
        monitor = self.crawler.get_extension(HealthMonitor)
        health = monitor.result if monitor is not None and monitor.result else None
        if health is None:
            health = evaluate(stats, reason, self.crawler.settings)
        status = run_status(stats, reason, self.crawler.settings, health["ok"])
        values = {
            "finished_at": utcnow(),
            "status": status,
            "finish_reason": reason,
            "counts": run_counts(stats),
            "health": health,
            "stats": _jsonable_stats(stats),
        }
        run_id = self.run_id
        try:
            await self.database.run(lambda conn: finish_run(conn, run_id, **values))
        except Exception as error:
            logger.error("could not record crawl run %s: %s", run_id, first_line(error))
