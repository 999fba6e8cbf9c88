"""Fold duplicates: by canonical URL, and by content hash (same story, another URL).

Within a run the seen URLs and hashes are kept in memory; across runs the stored ones
are loaded at start. A content duplicate becomes an AliasItem, so its URL is recorded
against the stored article instead of being lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from oilnews.errors import DatabaseUnusable
from oilnews.items import ArticleItem
from oilnews.known import KnownIndex
from oilnews.stats import key

logger = logging.getLogger(__name__)


@dataclass
class AliasItem:
    """`alias` served the same content as the stored article at `url`."""

    url: str
    alias: str


class DedupePipeline:
    def __init__(self, crawler: Crawler, across_runs: bool) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.across_runs = across_runs
        self.urls_seen: set[str] = set()
        self.url_by_hash: dict[str, str] = {}
        self.known_urls: set[str] = set()
        self.alias_of: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupePipeline:
        return cls(crawler, crawler.settings.getbool("OILNEWS_DEDUPE_ACROSS_RUNS"))

    async def open_spider(self) -> None:
        if not self.across_runs:
            return
        index = KnownIndex.of(self.crawler)
        try:
            await index.load()
        except DatabaseUnusable:
            return  # the store pipeline reports it and closes the spider
        for url, known in index.articles.items():
            if known.alias_of is not None:
                self.alias_of[url] = known.alias_of
            else:
                self.known_urls.add(url)
                self.url_by_hash.setdefault(known.content_hash, url)
        self.stats.set_value(key("dedupe", "known_at_start"), len(self.known_urls))

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        if item.url in self.urls_seen:
            self.stats.inc_value(key("dedupe", "url_duplicate"))
            raise DropItem(f"{item.url}: already processed in this run", log_level="DEBUG")
        self.urls_seen.add(item.url)
        assert item.content_hash, "CleanPipeline sets content_hash before dedupe"
        original = self.alias_of.get(item.url) or self.url_by_hash.setdefault(item.content_hash, item.url)
        if original != item.url and item.url not in self.known_urls:
            self.stats.inc_value(key("dedupe", "content_duplicate"))
            logger.debug("%s has the content of %s: recorded as alias", item.url, original)
            return AliasItem(url=original, alias=item.url)
        return item
