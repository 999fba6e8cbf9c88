"""Batched upserts into the database, off the reactor thread.

A batch is one transaction. Transient errors reconnect and retry (Database.run); a batch
that still cannot be written is spooled to a JSON-lines file and replayed on the next
start, so a database outage loses nothing and the upserts make the replay idempotent.
A permanent error (read-only, disk full, credentials revoked) also spools the batch, and
then closes the spider: there is no point downloading pages that cannot be stored.

With OILNEWS_DB_FLUSH_SECONDS (watch mode), a part-filled batch is written that often too, and
after a write succeeds again the batches this process spooled are replayed at once: a watcher
outlives a database restart without waiting for its own next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider

from oilnews.dates import json_value
from oilnews.errors import DatabaseUnusable
from oilnews.health import DATABASE_ERROR_KEY, DATABASE_UNUSABLE_REASON
from oilnews.items import ArticleItem, PriceQuoteItem
from oilnews.logs import first_line
from oilnews.pipelines.dedupe import AliasItem
from oilnews.stats import key
from oilnews.storage.database import Database
from oilnews.storage.models import ARTICLE_FIELDS
from oilnews.storage.writer import BatchResult, write_batch

logger = logging.getLogger(__name__)

_DATETIME_FIELDS = ("published_at", "modified_at", "observed_at")


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return json_value(value)
    raise TypeError(f"cannot spool {type(value).__name__}")


def _from_json(row: dict[str, Any]) -> dict[str, Any]:
    for name in _DATETIME_FIELDS:
        if isinstance(row.get(name), str):
            row[name] = datetime.fromisoformat(row[name])
    return row


class Batch:
    def __init__(self) -> None:
        self.articles: list[dict[str, Any]] = []
        self.quotes: list[dict[str, Any]] = []
        self.aliases: list[dict[str, str]] = []

    def __len__(self) -> int:
        return len(self.articles) + len(self.quotes) + len(self.aliases)

    def add(self, item: Any) -> bool:
        if isinstance(item, ArticleItem):
            # Field by field rather than ItemAdapter.asdict(): its recursive copy of ~25 links
            # per article cost more than the database write in a profile of a 3,000-page crawl.
            row: dict[str, Any] = {name: getattr(item, name) for name in ARTICLE_FIELDS}
            row["links"] = [{"url": link.url, "kind": link.kind, "title": link.title} for link in item.links]
            row["author_profiles"] = [
                {"profile_url": p.profile_url, "name": p.name, "bio": p.bio, "avatar_url": p.avatar_url}
                for p in item.author_profiles
            ]
            self.articles.append(row)
        elif isinstance(item, PriceQuoteItem):
            self.quotes.append(ItemAdapter(item).asdict())
        elif isinstance(item, AliasItem):
            self.aliases.append({"url": item.url, "alias": item.alias})
        else:
            return False
        return True

    def write(self, conn: Any, max_versions_per_day: int = 0) -> BatchResult:
        return write_batch(conn, self.articles, self.quotes, self.aliases, max_versions_per_day)

    def dump(self) -> str:
        return json.dumps(
            {"articles": self.articles, "quotes": self.quotes, "aliases": self.aliases},
            default=_to_json,
            ensure_ascii=False,
        )

    @classmethod
    def load(cls, line: str) -> Batch:
        data = json.loads(line)
        batch = cls()
        batch.articles = [_from_json(a) for a in data.get("articles", [])]
        batch.quotes = [_from_json(q) for q in data.get("quotes", [])]
        batch.aliases = data.get("aliases", [])
        return batch


class StorePipeline:
    def __init__(
        self, crawler: Crawler, batch_size: int, spool_dir: Path, flush_seconds: float = 0.0
    ) -> None:
        self.crawler = crawler
        self.database = Database.of(crawler)
        self.stats: Any = crawler.stats
        self.batch_size = max(1, batch_size)
        self.max_versions_per_day = crawler.settings.getint("OILNEWS_MAX_VERSIONS_PER_DAY")
        self.spool_dir = spool_dir
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
                result = await self.database.run(
                    partial(batch.write, max_versions_per_day=self.max_versions_per_day)
                )
            except DatabaseUnusable as error:
                self._spool(batch, error)
                self._unusable(error)
                if self._closing is None:
                    # A task: closing waits for the item in hand, which is waiting for this.
                    self._closing = asyncio.ensure_future(
                        self.crawler.engine.close_spider_async(reason=DATABASE_UNUSABLE_REASON)
                    )
                return
            except Exception as error:
                self._spool(batch, error)
                return
            self.stats.inc_value(key("store", "batches"))
            self.stats.inc_value(key("store", "seconds"), time.perf_counter() - started)
            self._count(result)
            if self._spooled_here and self.flush_seconds > 0:
                await self._recover()  # the database is back: what it missed goes in now

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
        ):
            if value:
                self.stats.inc_value(key("store", name), value)
        for url in result.churning:
            logger.info(
                "%s changed again: over OILNEWS_MAX_VERSIONS_PER_DAY, updated without a new version", url
            )

    def _spool(self, batch: Batch, error: BaseException) -> None:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        path = self.spool_dir / f"batch-{os.getpid()}.jsonl"
        with path.open("a", encoding="utf-8") as spool:
            spool.write(batch.dump() + "\n")
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
        if not self.spool_dir.is_dir():
            return
        for path in sorted(self.spool_dir.glob("batch-*.jsonl")):
            claimed = path.with_suffix(".replaying")
            try:
                path.rename(claimed)  # one worker replays a file, never two
            except OSError:
                continue
            lines = claimed.read_text(encoding="utf-8").splitlines()
            try:
                for number, line in enumerate(lines, 1):
                    try:
                        batch = Batch.load(line)
                    except ValueError:
                        # the process was killed while writing this line: nothing else is lost
                        logger.error("%s line %d is incomplete and was skipped", path, number)
                        self.stats.inc_value(key("store", "spool_lines_corrupt"))
                        continue
                    result = await self.database.run(
                        partial(batch.write, max_versions_per_day=self.max_versions_per_day)
                    )
                    self._count(result)
                    self.stats.inc_value(key("store", "replayed_items"), len(batch))
            except BaseException:
                claimed.rename(path)  # upserts make a second replay of the same lines harmless
                raise
            claimed.unlink()
            logger.info("replayed %d spooled batches from %s", len(lines), path)
