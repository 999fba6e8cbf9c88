"""Batched upserts into the database, off the reactor thread.

A batch is one transaction. Transient errors reconnect and retry (Database.run). What happens
to a batch the database still does not take depends on why (oilnews.storage.spool):

- an outage (unreachable, restarting, retries exhausted): the whole batch is spooled and
  replayed at the next start; upserts make the replay idempotent;
- an unusable database (read-only, disk full, credentials revoked): spooled too, and the
  spider closes: there is no point downloading pages that cannot be stored;
- rows the database refuses (a constraint, a type, a size) or the writer fails on: the batch is
  written half by half down to single rows, every other row is stored now, and each refused
  row becomes a dead letter with its error, counted (`oilnews/store/dead_letter/<kind>`) and
  failing the health check, never blocking a later run.

The writes, the splitting and the spool's file I/O all run in the database thread.

With OILNEWS_DB_FLUSH_SECONDS (watch mode), a part-filled batch is written that often too, and
after a write succeeds again the batches this process spooled are replayed at once: a watcher
outlives a database restart without waiting for its own next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider

from oilnews.errors import DatabaseUnusable
from oilnews.health import DATABASE_ERROR_KEY, DATABASE_UNUSABLE_REASON, DEAD_LETTER_KEY
from oilnews.logs import first_line
from oilnews.stats import key
from oilnews.storage.batch import Batch
from oilnews.storage.database import Database
from oilnews.storage.refusals import Isolated, refusal_kind
from oilnews.storage.spool import SPOOL_GLOB, Spool
from oilnews.storage.writer import BatchResult

logger = logging.getLogger(__name__)


class StorePipeline:
    def __init__(
        self, crawler: Crawler, batch_size: int, spool_dir: Path, flush_seconds: float = 0.0
    ) -> None:
        self.crawler = crawler
        self.database = Database.of(crawler)
        self.stats: Any = crawler.stats
        self.batch_size = max(1, batch_size)
        self.max_versions_per_day = crawler.settings.getint("OILNEWS_MAX_VERSIONS_PER_DAY")
        self.spool = Spool(spool_dir)
        self.batch = Batch()
        self._lock = asyncio.Lock()
        self._closing: asyncio.Future[None] | None = None
        self.flush_seconds = flush_seconds
        self._timer: asyncio.Task[None] | None = None
        self._writing: asyncio.Future[None] | None = None  # the batch being written
        self._stop_timer = asyncio.Event()
        self._spooled_here = 0  # items this process spooled and has not replayed yet
        self.database.on_retry = lambda _error: self.stats.inc_value(key("store", "retries"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        settings = crawler.settings
        return cls(
            crawler,
            settings.getint("OILNEWS_DB_BATCH_SIZE"),
            Path(settings.get("OILNEWS_SPOOL_DIR")),
            settings.getfloat("OILNEWS_DB_FLUSH_SECONDS"),
        )

    async def open_spider(self) -> None:
        try:
            await self.database.run(lambda conn: None)  # connect and migrate before the first item
            await self._replay_spool()
        except DatabaseUnusable as error:
            self._unusable(error)
            raise CloseSpider(DATABASE_UNUSABLE_REASON) from None
        if self.flush_seconds > 0:
            self._timer = asyncio.ensure_future(self._flush_every(self.flush_seconds))

    async def _flush_every(self, seconds: float) -> None:
        # Stopped by an event, not cancelled: a cancel could land mid-write, after the commit
        # and before the counts.
        while not self._stop_timer.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_timer.wait(), timeout=seconds)
            if self._stop_timer.is_set():
                return
            try:
                await self.flush()
            except Exception:  # flush spools what it cannot write; this is a bug, said once each
                logger.exception("timed flush failed")

    def _unusable(self, error: DatabaseUnusable) -> None:
        if not self.stats.get_value(DATABASE_ERROR_KEY):
            logger.error("%s", error)
            self.stats.set_value(DATABASE_ERROR_KEY, str(error))

    async def process_item(self, item: Any) -> Any:
        if self.batch.add(item) and len(self.batch) >= self.batch_size:
            # The full batch is written while the next one fills, so parsing goes on during
            # the database's work; at most one batch waits for the one being written.
            if self._writing is not None:
                await self._writing
            if len(self.batch) >= self.batch_size:  # not taken by another item meanwhile
                batch, self.batch = self.batch, Batch()  # taken now: batch_size items a batch
                self._writing = asyncio.ensure_future(self._write(batch))
        return item

    async def close_spider(self) -> None:
        self._stop_timer.set()
        if self._timer is not None:
            await self._timer
        if self._writing is not None:
            await self._writing
        await self.flush()

    async def flush(self) -> None:
        """Write what the current batch holds (taken now; written after the batch before it)."""
        batch, self.batch = self.batch, Batch()
        await self._write(batch)

    async def _write(self, batch: Batch) -> None:
        async with self._lock:  # FIFO: batches are written in the order they were taken
            if not len(batch):
                if self._spooled_here and self.flush_seconds > 0 and self._closing is None:
                    await self._recover()  # nothing new to write: is the database back?
                return
            started = time.perf_counter()
            try:
                outcome, paths = await self.database.call(
                    lambda: self.spool.store(batch, self.database.transaction, self.max_versions_per_day)
                )
            except DatabaseUnusable as error:
                await self._spool(batch, error)
                self._unusable(error)
                if self._closing is None:
                    # A task: closing waits for the item in hand, which is waiting for this.
                    self._closing = asyncio.ensure_future(
                        self.crawler.engine.close_spider_async(reason=DATABASE_UNUSABLE_REASON)
                    )
                return
            except Exception as error:  # an outage: the retries are spent
                await self._spool(batch, error)
                return
            self.stats.inc_value(key("store", "batches"))
            self.stats.inc_value(key("store", "seconds"), time.perf_counter() - started)
            self._count_isolated(outcome, paths)
            if self._spooled_here and self.flush_seconds > 0:
                await self._recover()  # the database is back: what it missed goes in now

    def _count_isolated(self, outcome: Isolated, paths: list[Path]) -> None:
        for result in outcome.results:
            self._count(result)
        for (rows, error), path in zip(outcome.refused, paths, strict=True):
            kind = refusal_kind(error)
            self.stats.inc_value(f"{DEAD_LETTER_KEY}/{kind}", len(rows))
            self.stats.inc_value(key("errors", "database_refused" if kind == "refused" else "store_bug"))
            what = ", ".join(rows.urls()) or f"{len(rows)} rows"
            logger.error(
                "the database refused %s (%s), kept in %s: %s",
                what,
                kind,
                path,
                first_line(error),
                exc_info=error if kind == "bug" else None,
            )

    async def _recover(self) -> None:
        """Replay this process's spooled batches once the database takes writes again."""
        try:
            await self._replay_spool()
        except Exception as error:
            logger.info("spooled batches not replayed yet: %s", first_line(error))
            return
        self.stats.inc_value(key("store", "spool_recovered"), self._spooled_here)
        logger.warning("database writes work again: %d spooled items stored", self._spooled_here)
        self._spooled_here = 0

    def _count(self, result: BatchResult) -> None:
        for name, value in (
            ("articles_new", len(result.new)),
            ("articles_updated", len(result.updated)),
            ("articles_unchanged", len(result.unchanged)),
            ("aliases", result.aliases),
            ("links", result.links),
            ("quotes", result.quotes),
            ("content_duplicates", result.folded),
            ("articles_churning", len(result.churning)),
            ("articles_rederived", len(result.rederived)),
        ):
            if value:
                self.stats.inc_value(key("store", name), value)
        for url in result.churning:
            logger.info(
                "%s changed again: over OILNEWS_MAX_VERSIONS_PER_DAY, updated without a new version", url
            )

    async def _spool(self, batch: Batch, error: BaseException) -> None:
        path = await self.database.call(lambda: self.spool.spool(batch, error))
        self.stats.inc_value(key("store", "spooled_items"), len(batch))
        self._spooled_here += len(batch)
        self.stats.inc_value(key("errors", "database"))
        logger.error(
            "database write failed, %d items spooled to %s for the next run: %s",
            len(batch),
            path,
            first_line(error),
        )

    async def _replay_spool(self) -> None:
        """The spooled batches written again (in the database thread). A line the database
        refuses (not an outage) is split like a batch: its refused rows become dead letters
        and the replay goes on, so one bad row never blocks a run. An outage or an unusable
        database puts the file back for later and is raised."""
        replayed = await self.database.call(
            lambda: self.spool.replay((SPOOL_GLOB,), self.database.transaction, self.max_versions_per_day)
        )
        self._count_isolated(replayed.stored, replayed.dead_letters)
        if replayed.items:
            self.stats.inc_value(key("store", "replayed_items"), replayed.items)
        if replayed.corrupt:
            self.stats.inc_value(key("store", "spool_lines_corrupt"), replayed.corrupt)
