"""Fold duplicates by canonical URL here; by content hash where the rows are written.

Within a run each URL is processed once (a `DigestSet` of the URLs seen, 8 bytes each). An
alias URL that the database already files under another article (`KnownIndex`, looked up by
the spider before the page was requested) becomes an AliasItem again. A new URL whose content
is already stored, in an earlier run, an earlier batch or this one, is folded into an alias
by oilnews.storage.writer inside the batch's transaction: the database, not a worker's memory,
has the last word, and a crawl keeps no content hash per article (issue 15).
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from oilnews.extensions.known import KnownIndex
from oilnews.items import AliasItem, ArticleItem
from oilnews.seen import DigestSet
from oilnews.stats import key

logger = logging.getLogger(__name__)


class DedupePipeline:
    def __init__(self, crawler: Crawler, across_runs: bool) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.urls_seen = DigestSet()
        self.known = KnownIndex.of(crawler) if across_runs else None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupePipeline:
        return cls(crawler, crawler.settings.getbool("OILNEWS_DEDUPE_ACROSS_RUNS"))

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        if not self.urls_seen.add(item.url):
            self.stats.inc_value(key("dedupe", "url_duplicate"))
            raise DropItem(f"{item.url}: already processed in this run", log_level="DEBUG")
        assert item.content_hash, "CleanPipeline sets content_hash before dedupe"
        known = self.known.articles.get(item.url) if self.known is not None else None
        if known is not None and known.alias_of is not None and known.alias_of != item.url:
            self.stats.inc_value(key("dedupe", "known_alias"))
            logger.debug("%s is stored as an alias of %s", item.url, known.alias_of)
            return AliasItem(url=known.alias_of, alias=item.url)
        return item
