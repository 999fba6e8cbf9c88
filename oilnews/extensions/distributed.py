"""Distributed mode: with OILNEWS_REDIS_URL set, every worker shares one crawl frontier.

scrapy-redis provides the scheduler (a shared priority queue) and the dupefilter (a shared
fingerprint set). Keys are namespaced by a *run*, so that one run's fingerprints never
suppress the next run's requests, and they expire after the run.

A run owns its frontier. A starting worker joins the run in progress when one of that run's
workers is alive (its heartbeat is younger than OILNEWS_REDIS_IDLE_GRACE), else it starts a new
run; the decision is one atomic Redis script, so workers started together share one run. A
finished run, or one whose workers were all killed, never blocks the next: that one simply
starts fresh and resumes from the database. OILNEWS_REDIS_GENERATION names a run explicitly.
Without OILNEWS_REDIS_URL none of this is configured and nothing of Redis is imported.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.settings import BaseSettings

from oilnews.errors import SiteUnreachable, require
from oilnews.logs import first_line, mask_secrets
from oilnews.stats import key

logger = logging.getLogger(__name__)


# Join the current run of this site and database if one of its workers is alive, else start a
# new one; register the caller as a busy worker of the run it gets. Atomic: Redis runs a script
# alone, so two workers starting at the same instant get the same run.
_CLAIM = """
local current = redis.call('GET', KEYS[1])
local now, grace = tonumber(ARGV[2]), tonumber(ARGV[3])
if current then
  local beats = redis.call('HVALS', 'oilnews:' .. current .. ':workers')
  for _, beat in ipairs(beats) do
    local stamp = tonumber(string.match(beat, ':(.+)$'))
    if stamp and now - stamp < grace then
      redis.call('HSET', 'oilnews:' .. current .. ':workers', ARGV[4], 'busy:' .. ARGV[2])
      return current
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[5])
redis.call('HSET', 'oilnews:' .. ARGV[1] .. ':workers', ARGV[4], 'busy:' .. ARGV[2])
redis.call('EXPIRE', 'oilnews:' .. ARGV[1] .. ':workers', ARGV[5])
return ARGV[1]
"""


REDIS_TIMEOUT = 5.0  # seconds a coordinator's Redis call may take (connect or answer)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _current_run_key(settings: BaseSettings) -> str:
    # One frontier per site and database: two deployments sharing a Redis never meet.
    identity = f"{settings.get('OILNEWS_SITE_URL')}|{settings.get('OILNEWS_DATABASE_URL')}"
    return f"oilnews:current:{hashlib.sha1(identity.encode()).hexdigest()[:12]}"


def claim_run(settings: BaseSettings) -> str:
    """The run this worker belongs to (see the module docstring)."""
    explicit = str(settings.get("OILNEWS_REDIS_GENERATION") or "")
    if explicit:
        return explicit
    new = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    ttl = int(settings.getfloat("OILNEWS_REDIS_KEY_TTL_HOURS") * 3600)
    grace = settings.getfloat("OILNEWS_REDIS_IDLE_GRACE")
    current_key = _current_run_key(settings)

    def claim(server: Any) -> Any:
        _forget_dead_local_workers(server, current_key)
        return server.eval(_CLAIM, 1, current_key, new, f"{time.time():.3f}", grace, worker_name(), ttl)

    return str(_redis_call(settings, claim))


def _redis_call(settings: BaseSettings, work: Any) -> Any:
    """`work(server)` on a fresh connection; an unreachable Redis is one clear error."""
    import redis

    url = str(settings.get("OILNEWS_REDIS_URL"))
    try:
        server = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        try:
            return work(server)
        finally:
            server.close()
    except redis.RedisError as error:
        raise SiteUnreachable(
            f"cannot reach Redis at {mask_secrets(url)} (OILNEWS_REDIS_URL): {first_line(error)}; is it running?"
        ) from None


def _forget_dead_local_workers(server: Any, current_key: str) -> None:
    """A killed worker's heartbeat stays fresh for the grace period; on this host its pid says
    at once whether it is gone, so a crawl restarted right after a kill starts a new run (the
    killed run's fingerprints would hide the pages that were in flight when it died)."""
    current = server.get(current_key)
    if not current:
        return
    host = socket.gethostname()
    workers_key = f"oilnews:{current}:workers"
    for worker in server.hkeys(workers_key):
        name, _, pid = str(worker).rpartition(":")
        if name == host and pid.isdigit() and not _alive(int(pid)):
            server.hdel(workers_key, worker)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def frontier_settings(settings: BaseSettings, claim: bool = True) -> dict[str, Any]:
    """scrapy-redis's scheduler and dupefilter when OILNEWS_REDIS_URL is set, else nothing.
    `claim=False` only checks that the packages are there (the pre-flight check)."""
    url = settings.get("OILNEWS_REDIS_URL")
    if not url:
        return {}
    require("scrapy_redis", "scrapy-redis")
    require("redis", "redis")
    if not claim:
        _redis_call(settings, lambda server: server.ping())
        return {}
    import warnings

    from scrapy.exceptions import ScrapyDeprecationWarning

    # scrapy-redis 0.9 still passes `spider` to the stats API; its warnings, not ours.
    warnings.filterwarnings("ignore", category=ScrapyDeprecationWarning, module="scrapy_redis")
    prefix = f"oilnews:{claim_run(settings)}"
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
        # Bounded: the idle check runs on the reactor thread (Scrapy's spider_idle cannot wait
        # for a thread), so a Redis that stops answering costs at most REDIS_TIMEOUT there.
        self.server = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        self.prefix = prefix
        self.ttl = ttl
        self.grace = grace
        self.worker = worker_name()
        self.workers_key = f"{prefix}:workers"
        self._queue_key = ""  # the shared request queue, known once the spider opens
        self._queued = 0  # its length at the last heartbeat
        self._peers = False  # whether a peer was busy at the last heartbeat
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
        prefix = settings.get("OILNEWS_REDIS_PREFIX")
        if not prefix:
            raise NotConfigured  # the distributed add-on is off: no shared frontier to coordinate
        return cls(
            crawler,
            url,
            prefix,
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
        """In a thread, every second: this worker's state out, and what the idle check needs
        in (the shared queue's length, whether a peer is busy), so that the check itself, which
        Scrapy runs on the reactor thread, makes no network call."""
        state = "busy" if self._busy() else "idle"
        self.server.hset(self.workers_key, self.worker, f"{state}:{time.time():.3f}")
        self.server.expire(self.workers_key, self.ttl)
        self._queued = int(self.server.zcard(self._queue_key)) if self._queue_key else 0
        self._peers = self._peers_busy()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.to_thread(self._beat)
            await asyncio.sleep(1)

    async def spider_opened(self, spider: Any) -> None:
        self._queue_key = f"{self.prefix}:{spider.name}:requests"
        await asyncio.to_thread(self._beat)
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
        # From the last heartbeat (at most a second old): a peer that turned busy since is
        # still counted busy for the grace period, and requests it queued keep it busy.
        if self._queued or self._peers:
            self.crawler.stats.inc_value(key("distributed", "kept_alive"))
            raise DontCloseSpider

    async def spider_closed(self, spider: Any, reason: str) -> None:
        if self._task is not None:
            self._task.cancel()

        def leave() -> None:
            self.server.hdel(self.workers_key, self.worker)
            for suffix in (f"{spider.name}:requests", f"{spider.name}:dupefilter", "workers"):
                self.server.expire(f"{self.prefix}:{suffix}", self.ttl)
            self.server.close()

        await asyncio.to_thread(leave)
