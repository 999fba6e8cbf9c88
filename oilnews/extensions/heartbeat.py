"""A watcher's heartbeat: proof, every OILNEWS_WATCH_HEARTBEAT_SECONDS, that it is alive and well.

A cron run is judged when it ends; a watcher may never end, so it is judged while it runs:

- `crawl_runs.heartbeat_at` and the counts so far, on its running row: `oilnews runs` shows
  the watcher with its age, `oilnews status` exits 1 when the heartbeat is stale (a hung or
  dead watcher), and a stale row is marked abandoned like a killed crawl's;
- the metrics file (OILNEWS_METRICS_FILE) with `oilnews_watch_*` gauges, for Prometheus;
- an alert (Alerter's channels) when every poll has failed, or writes have been spooled, for
  OILNEWS_WATCH_ALERT_AFTER_MINUTES, and one message when it is over.

On only for the watch spider, which sets OILNEWS_WATCH_HEARTBEAT_SECONDS (0 elsewhere).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from oilnews.extensions.alerts import Alerter, Verdict
from oilnews.extensions.metrics import MetricsFile
from oilnews.health import unreplayed_spool
from oilnews.logs import first_line
from oilnews.stats import key
from oilnews.storage.database import Database
from oilnews.storage.models import utcnow
from oilnews.storage.runs import heartbeat_run
from oilnews.summary import run_counts

logger = logging.getLogger(__name__)

HEARTBEATS_KEY = key("watch", "heartbeats")


class WatchHeartbeat:
    def __init__(self, crawler: Crawler, every: float, alert_after: float) -> None:
        self.crawler = crawler
        self.every = every
        self.alert_after = alert_after
        self.alerted = False  # an outage alert is out: the next healthy beat says it is over
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._spooled_since: float | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WatchHeartbeat:
        every = crawler.settings.getfloat("OILNEWS_WATCH_HEARTBEAT_SECONDS")
        if every <= 0:
            raise NotConfigured
        return cls(crawler, every, crawler.settings.getfloat("OILNEWS_WATCH_ALERT_AFTER_MINUTES") * 60)

    def spider_opened(self, spider: Any) -> None:
        self._task = asyncio.ensure_future(self._loop())

    async def spider_closed(self, spider: Any, reason: str) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self.every)
                return
            except TimeoutError:
                pass
            try:
                await self.beat()
            except Exception:  # a bug here must not end the watcher
                logger.exception("heartbeat failed")

    def status(self) -> dict[str, Any]:
        watch_status = getattr(self.crawler.spider, "watch_status", None)
        return dict(watch_status()) if watch_status is not None else {}

    def outage(self, status: dict[str, Any]) -> str | None:
        """What is wrong, if it has been wrong for OILNEWS_WATCH_ALERT_AFTER_MINUTES."""
        assert self.crawler.stats is not None
        spooled = unreplayed_spool(self.crawler.stats.get_stats())
        now = time.monotonic()
        if spooled > 0:
            self._spooled_since = self._spooled_since or now
        else:
            self._spooled_since = None
        if self._spooled_since is not None and now - self._spooled_since >= self.alert_after:
            return f"database writes failing for {(now - self._spooled_since) / 60:.0f} min ({spooled} items spooled)"
        seconds = status.get("outage_seconds")
        if seconds is not None and seconds >= self.alert_after:
            return f"every poll of the site failing for {seconds / 60:.0f} min"
        return None

    async def beat(self) -> None:
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value(HEARTBEATS_KEY)
        status = self.status()
        counts = run_counts(stats.get_stats())
        run_id = stats.get_value(key("run_id"))
        if run_id is not None:
            try:
                health = {"heartbeat_seconds": self.every, "watch": status}
                await Database.of(self.crawler).run(
                    lambda conn: heartbeat_run(conn, run_id, utcnow(), counts, health)
                )
            except Exception as error:  # the database may be down: the file and alerts still work
                logger.warning("heartbeat not recorded in crawl_runs: %s", first_line(error))
                stats.inc_value(key("watch", "heartbeat_unrecorded"))
        await self._metrics(status, counts)
        await self._alert(self.outage(status), counts)

    async def _metrics(self, status: dict[str, Any], counts: dict[str, Any]) -> None:
        metrics = self.crawler.get_extension(MetricsFile)
        if metrics is None:
            return
        age = await metrics.newest_article_age()
        await metrics.write(
            (
                (
                    "watch_heartbeat_timestamp_seconds",
                    "When the watcher last said it was alive.",
                    time.time(),
                ),
                (
                    "watch_articles_new",
                    "Articles the running watcher has stored for the first time.",
                    counts.get("articles_new", 0),
                ),
                (
                    "watch_polls",
                    "Polls of the feed, listings and sitemap by the running watcher.",
                    status.get("polls"),
                ),
                ("watch_failing_sources", "Sources whose last poll failed.", len(status.get("failing", ()))),
                (
                    "watch_outage_seconds",
                    "How long every poll has been failing (0: none is).",
                    status.get("outage_seconds") or 0,
                ),
                (
                    "watch_errors",
                    "Server errors, timeouts, connection and parse errors so far.",
                    counts.get("errors", 0),
                ),
                (
                    "newest_article_age_seconds",
                    "Age of the newest stored article (by publication time).",
                    age,
                ),
            )
        )

    async def _alert(self, problem: str | None, counts: dict[str, Any]) -> None:
        alerter = self.crawler.get_extension(Alerter)
        if alerter is None or (problem is None) != self.alerted:
            return  # nothing configured, or nothing new to say
        assert self.crawler.stats is not None
        v = Verdict(
            healthy=problem is None,
            failures=[f"watcher: {problem}"] if problem else [],
            finish_reason="running",
            counts=counts,
            run_id=self.crawler.stats.get_value(key("run_id")),
            site=self.crawler.settings.get("OILNEWS_SITE_URL"),
        )
        self.alerted = problem is not None
        logger.warning("watcher %s", problem or "recovered: polls and writes work again")
        await alerter.send(v)
