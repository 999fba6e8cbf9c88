"""Drop articles missing a required field, counting the reason; count every field the
health checks watch (OILNEWS_HEALTH_FIELDS) when it is missing."""

from __future__ import annotations

import logging
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from oilnews.items import ArticleItem
from oilnews.stats import key, record_skip

logger = logging.getLogger(__name__)


class ValidatePipeline:
    def __init__(self, required: list[str], watched: list[str], stats: Any) -> None:
        self.required = required
        self.watched = list(dict.fromkeys([*required, *watched]))
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidatePipeline:
        settings = crawler.settings
        return cls(
            settings.getlist("OILNEWS_REQUIRED_FIELDS"),
            settings.getlist("OILNEWS_HEALTH_FIELDS"),
            crawler.stats,
        )

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        self.stats.inc_value(key("body_source", item.body_source))
        adapter = ItemAdapter(item)
        missing = [name for name in self.required if not adapter.get(name)]
        for name in self.watched:
            if not adapter.get(name):
                self.stats.inc_value(key("fields_missing", name))
        if missing:
            reason = f"missing_{missing[0]}"
            self.stats.inc_value(key("dropped", reason))
            record_skip(self.stats, item.url, reason)
            raise DropItem(f"{item.url}: missing {', '.join(missing)}")
        self.stats.inc_value(key("valid", "articles"))
        return item
