"""The metrics file: after every run, OILNEWS_METRICS_FILE gets the run's figures in
Prometheus' text format (node_exporter's textfile collector)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from sqlalchemy import func, select

from oilnews.dates import utc_from_db
from oilnews.extensions.alerts import Verdict, verdict
from oilnews.logs import first_line
from oilnews.stats import key
from oilnews.storage.database import Database
from oilnews.storage.files import write_atomically
from oilnews.storage.models import articles_table

logger = logging.getLogger(__name__)


Gauges = tuple[tuple[str, str, float | None], ...]


def run_gauges(v: Verdict, start: datetime | None, end: datetime, newest_age: float | None) -> Gauges:
    """The figures of one run, as (name, help, value); None is unknown."""
    c = v.counts
    return (
        (
            "last_run_start_timestamp_seconds",
            "When the last crawl run started.",
            start.timestamp() if start else None,
        ),
        ("last_run_end_timestamp_seconds", "When the last crawl run ended.", end.timestamp()),
        (
            "last_run_duration_seconds",
            "How long the last crawl run took.",
            (end - start).total_seconds() if start else None,
        ),
        (
            "last_run_articles_new",
            "Articles stored for the first time by the last run.",
            c.get("articles_new", 0),
        ),
        (
            "last_run_articles_updated",
            "Stored articles whose content changed in the last run.",
            c.get("articles_updated", 0),
        ),
        ("last_run_articles_dropped", "Articles dropped by validation in the last run.", c.get("dropped", 0)),
        (
            "last_run_errors",
            "Server errors, timeouts, connection and parse errors in the last run.",
            c.get("errors", 0),
        ),
        ("last_run_quotes", "Price quotes stored by the last run.", c.get("quotes", 0)),
        ("last_run_healthy", "1 when the last run passed its health checks, else 0.", 1 if v.healthy else 0),
        ("newest_article_age_seconds", "Age of the newest stored article (by publication time).", newest_age),
    )


def write_metrics(path: str, gauges: Gauges) -> None:
    """(name, help, value) as `oilnews_<name>` gauges in Prometheus' text format (what
    node_exporter's textfile collector reads), atomically; unknown values left out."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry()
    for name, doc, value in gauges:
        if value is not None:  # unknown is left out, never written as 0
            Gauge(f"oilnews_{name}", doc, registry=registry).set(value)
    text = generate_latest(registry)
    write_atomically(Path(path), lambda stream: stream.write(text))


class MetricsFile:
    """After every run, OILNEWS_METRICS_FILE gets the run's figures in Prometheus' text format
    (for node_exporter's textfile collector), written atomically (oilnews.storage.files)."""

    def __init__(self, crawler: Crawler, path: str) -> None:
        self.crawler = crawler
        self.path = path
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MetricsFile:
        path = crawler.settings.get("OILNEWS_METRICS_FILE")
        if not path:
            raise NotConfigured
        return cls(crawler, str(path))

    def _newest_article_age(self) -> float | None:
        def read(conn: Any) -> Any:
            return conn.execute(select(func.max(articles_table.c.published_at))).scalar()

        newest = Database.of(self.crawler).transaction(read)
        if newest is None:
            return None
        stored = utc_from_db(newest)
        return None if stored is None else float((datetime.now(UTC) - stored).total_seconds())

    async def newest_article_age(self) -> float | None:
        try:
            return await asyncio.to_thread(self._newest_article_age)
        except Exception as error:  # the database may be what failed: the other figures still count
            logger.warning("metrics: newest article age unknown: %s", first_line(error))
            return None

    async def spider_closed(self, spider: Any, reason: str) -> None:
        assert self.crawler.stats is not None
        stats = self.crawler.stats.get_stats()
        age = await self.newest_article_age()
        end = stats.get("finish_time") or datetime.now(UTC)
        await self.write(run_gauges(verdict(self.crawler, reason), stats.get("start_time"), end, age))

    async def write(self, gauges: Gauges) -> None:
        """The gauges into the file (write_metrics), off the reactor; a failure is counted."""
        try:
            await asyncio.to_thread(write_metrics, self.path, gauges)
        except OSError as error:
            logger.error("metrics file %s not written: %s", self.path, first_line(error))
            self.crawler.stats.inc_value(key("metrics", "write_failed"))
