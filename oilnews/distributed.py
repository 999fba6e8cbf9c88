"""Distributed mode: with OILNEWS_REDIS_URL set, every worker shares one crawl frontier.

scrapy-redis provides the scheduler (a shared priority queue) and the dupefilter (a shared
fingerprint set). Keys are namespaced by a *generation* so that one scheduled run's
fingerprints never suppress the next run's requests, and they expire after the run. Without
OILNEWS_REDIS_URL none of this is configured and nothing of Redis is imported.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from datetime import UTC, datetime
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.settings import BaseSettings

from oilnews.errors import require
from oilnews.stats import key

logger = logging.getLogger(__name__)


def generation(settings: BaseSettings) -> str:
    """Workers started for the same scheduled run share a generation: an explicit
    OILNEWS_REDIS_GENERATION, or the start time floored to the schedule interval."""
    explicit = str(settings.get("OILNEWS_REDIS_GENERATION") or "")
    if explicit:
        return explicit
    minutes = max(1, settings.getint("OILNEWS_REDIS_GENERATION_MINUTES"))
    bucket = int(time.time()) // (minutes * 60) * (minutes * 60)
    return datetime.fromtimestamp(bucket, UTC).strftime("%Y%m%dT%H%M")


def frontier_settings(settings: BaseSettings) -> dict[str, Any]:
    """scrapy-redis's scheduler and dupefilter when OILNEWS_REDIS_URL is set, else nothing."""
    url = settings.get("OILNEWS_REDIS_URL")
    if not url:
        return {}
    require("scrapy_redis", "scrapy-redis")
    import warnings

    from scrapy.exceptions import ScrapyDeprecationWarning

    # scrapy-redis 0.9 still passes `spider` to the stats API; its warnings, not ours.
    warnings.filterwarnings("ignore", category=ScrapyDeprecationWarning, module="scrapy_redis")
    prefix = f"oilnews:{generation(settings)}"
    return {
        "OILNEWS_REDIS_PREFIX": prefix,
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        # Several workers: the first to finish must not wipe the shared queue.
        "SCHEDULER_PERSIST": True,
        "SCHEDULER_QUEUE_KEY": f"{prefix}:%(spider)s:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"{prefix}:%(spider)s:dupefilter",
        "REDIS_URL": url,
    }


class RedisWorkerCoordinator:
    """Keeps a worker alive while another one may still add requests to the shared queue.

    A worker whose own pipeline is empty would otherwise close while its peer is parsing the
    page that yields the next hundred requests. Each worker writes its state (busy/idle) with
    a heartbeat to a Redis hash; an idle worker closes only when the queue is empty and no
    peer has been busy recently. On close the run's keys get a TTL, so they expire.
    """

    def __init__(self, crawler: Crawler, url: str, prefix: str, ttl: int, grace: float) -> None:
        import redis

        self.crawler = crawler
        self.server = redis.Redis.from_url(url, decode_responses=True)
        self.prefix = prefix
        self.ttl = ttl
        self.grace = grace
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.workers_key = f"{prefix}:workers"
        self._task: asyncio.Task[None] | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedisWorkerCoordinator:
        settings = crawler.settings
        url = settings.get("OILNEWS_REDIS_URL")
        if not url:
            raise NotConfigured
        require("redis", "redis")
        return cls(
            crawler,
            url,
            settings.get("OILNEWS_REDIS_PREFIX") or f"oilnews:{generation(settings)}",
            int(settings.getfloat("OILNEWS_REDIS_KEY_TTL_HOURS") * 3600),
            settings.getfloat("OILNEWS_REDIS_IDLE_GRACE"),
        )

    def _busy(self) -> bool:
        engine = self.crawler.engine
        if engine is None or engine.spider is None:
            return False
        try:
            return not engine.spider_is_idle()
        except RuntimeError:  # the engine is not running (opening or closed)
            return False

    def _beat(self) -> None:
        state = "busy" if self._busy() else "idle"
        self.server.hset(self.workers_key, self.worker, f"{state}:{time.time():.3f}")
        self.server.expire(self.workers_key, self.ttl)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.to_thread(self._beat)
            await asyncio.sleep(1)

    def spider_opened(self, spider: Any) -> None:
        self._beat()
        self._task = asyncio.get_event_loop().create_task(self._heartbeat())
        logger.info("distributed worker %s on %s", self.worker, self.prefix)

    def _peers_busy(self) -> bool:
        now = time.time()
        for worker, value in self.server.hgetall(self.workers_key).items():
            state, _, stamp = str(value).partition(":")
            if str(worker) != self.worker and state == "busy" and now - float(stamp) < self.grace:
                return True
        return False

    def spider_idle(self, spider: Any) -> None:
        self._beat()
        queue = f"{self.prefix}:{spider.name}:requests"
        if self.server.zcard(queue) or self._peers_busy():
            self.crawler.stats.inc_value(key("distributed", "kept_alive"))
            raise DontCloseSpider

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self._task is not None:
            self._task.cancel()
        self.server.hdel(self.workers_key, self.worker)
        for suffix in (f"{spider.name}:requests", f"{spider.name}:dupefilter", "workers"):
            self.server.expire(f"{self.prefix}:{suffix}", self.ttl)
        self.server.close()
