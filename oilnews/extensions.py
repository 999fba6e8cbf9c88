"""Crawl-level extensions: the `crawl_runs` record and the progress line."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from datetime import datetime, timedelta
from typing import Any, cast

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from oilnews.stats import key
from oilnews.storage.db import Database, abandon_stale_runs, finish_run, mask_secrets, start_run
from oilnews.storage.models import utcnow

logger = logging.getLogger(__name__)

RUN_ID_KEY = key("run_id")


def run_counts(stats: dict[str, Any]) -> dict[str, Any]:
    """The figures a person reads first, from the crawl stats."""

    def total(prefix: str) -> int:
        return sum(int(v) for k, v in stats.items() if k.startswith(prefix) and isinstance(v, int | float))

    return {
        "requests": int(stats.get("downloader/request_count", 0)),
        "responses": int(stats.get("response_received_count", 0)),
        "pages_article": int(stats.get(key("pages", "article"), 0)),
        "pages_listing": int(stats.get(key("pages", "listing"), 0)),
        "articles_new": int(stats.get(key("store", "articles_new"), 0)),
        "articles_updated": int(stats.get(key("store", "articles_updated"), 0)),
        "articles_unchanged": int(stats.get(key("store", "articles_unchanged"), 0)),
        "duplicates": total(key("dedupe", "url_duplicate"))
        + total(key("dedupe", "content_duplicate"))
        + total(key("store", "content_duplicates")),
        "skipped_known": int(stats.get(key("skipped", "known"), 0)),
        "refreshed": total(key("refresh") + "/"),
        "dropped": total(key("dropped") + "/"),
        "quotes": int(stats.get(key("store", "quotes"), 0)),
        "errors": total(key("errors") + "/") + int(stats.get("log_count/ERROR", 0)),
        "spooled": int(stats.get(key("store", "spooled_items"), 0)),
        "dropped_by_reason": {
            k.rsplit("/", 1)[1]: int(v) for k, v in stats.items() if k.startswith(key("dropped") + "/")
        },
    }


def _jsonable_stats(stats: dict[str, Any]) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, str):
            return mask_secrets(value)
        return value

    return cast(
        dict[str, Any],
        json.loads(
            json.dumps(stats, default=str), object_hook=lambda d: {k: convert(v) for k, v in d.items()}
        ),
    )


class CrawlRunRecorder:
    """A `crawl_runs` row per crawl: opened as running, closed with counts and stats."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.database = Database.for_crawler(crawler)
        self.run_id: int | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlRunRecorder:
        if not crawler.settings.getbool("OILNEWS_RECORD_RUNS", True):
            raise NotConfigured
        return cls(crawler)

    async def spider_opened(self, spider: Any) -> None:
        site = self.crawler.settings.get("OILNEWS_SITE_URL")
        stale = utcnow() - timedelta(hours=self.crawler.settings.getfloat("OILNEWS_RUN_STALE_HOURS"))

        def begin(conn: Any) -> int:
            abandon_stale_runs(conn, stale)
            return start_run(conn, spider.name, site)

        self.run_id = await self.database.run(begin)
        assert self.crawler.stats is not None
        self.crawler.stats.set_value(RUN_ID_KEY, self.run_id)

    async def spider_closed(self, spider: Any, reason: str) -> None:
        if self.run_id is None:
            return
        assert self.crawler.stats is not None
        stats = self.crawler.stats.get_stats()
        from oilnews.health import evaluate

        health = evaluate(stats, reason, self.crawler.settings)
        counts = run_counts(stats)
        status = "finished" if reason == "finished" and health["ok"] else "failed"
        self.crawler.stats.set_value(key("health", "ok"), health["ok"])
        values = {
            "finished_at": utcnow(),
            "status": status,
            "finish_reason": reason,
            "counts": counts,
            "health": health,
            "stats": _jsonable_stats(stats),
        }
        run_id = self.run_id
        try:
            await self.database.run(lambda conn: finish_run(conn, run_id, **values))
        except Exception as error:
            logger.error("could not record crawl run %s: %s", run_id, mask_secrets(str(error)))
        for failure in health["failures"]:
            logger.error("health check failed: %s", failure)
        self.database.close()


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

    def report(self) -> None:
        assert self.crawler.stats is not None
        c = run_counts(self.crawler.stats.get_stats())
        elapsed = time.monotonic() - self.started
        print(
            f"[{elapsed:7.0f}s] pages {c['responses']}, articles new {c['articles_new']} "
            f"updated {c['articles_updated']} unchanged {c['articles_unchanged']}, "
            f"duplicates {c['duplicates']}, dropped {c['dropped']}, errors {c['errors']}",
            file=sys.stderr,
            flush=True,
        )
