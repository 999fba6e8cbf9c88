"""Drop articles missing a required field, counting the reason; count every field the
health checks watch (OILNEWS_HEALTH_FIELDS) when it is missing; count dates that cannot be
right though they parse (a publication more than FUTURE_SKEW ahead of the clock, a change
more than SCHEDULED_SKEW before the publication): kept as the page says, logged once a run, and a monitor fails the run
when they are more than OILNEWS_HEALTH_MAX_SUSPICIOUS_DATES of its articles."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from oilnews.dates import FUTURE_SKEW
from oilnews.health import SUSPICIOUS_DATES_KEY
from oilnews.items import ArticleItem
from oilnews.stats import key, record_skip
from oilnews.urls import MAX_URL_LENGTH

logger = logging.getLogger(__name__)


# The site's dateModified precedes datePublished on scheduled posts (three of the four real
# pages in ../shared, by 20 minutes to 2 hours: the draft's last save): normal within days.
SCHEDULED_SKEW = timedelta(days=7)


class ValidatePipeline:
    def __init__(
        self, required: list[str], watched: list[str], stats: Any, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.required = required
        self.watched = list(dict.fromkeys([*required, *watched]))
        self.stats = stats
        self.clock = clock or (lambda: datetime.now(UTC))
        self._said: set[str] = set()  # the kinds of suspicious date logged this run

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
        if len(item.url) > MAX_URL_LENGTH:
            self.stats.inc_value(key("dropped", "url_too_long"))
            record_skip(self.stats, item.url[:200] + "...", "url_too_long")
            raise DropItem(f"{item.url[:200]}...: URL longer than {MAX_URL_LENGTH} characters")
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
        self._check_dates(item)
        return item

    def _check_dates(self, item: ArticleItem) -> None:
        published, modified = item.published_at, item.modified_at
        found = []
        if published is not None and published > self.clock() + FUTURE_SKEW:
            found.append(("future", f"published {published.isoformat()}, in the future"))
        if published is not None and modified is not None and modified < published - SCHEDULED_SKEW:
            found.append(
                ("modified_before_published", f"modified {modified.isoformat()}, long before published")
            )
        for kind, what in found:
            self.stats.inc_value(f"{SUSPICIOUS_DATES_KEY}/{kind}")
            if kind not in self._said:  # once a run: a site-wide bug would flood the log
                self._said.add(kind)
                logger.warning("%s: %s (kept as the page says; further ones counted)", item.url, what)
        if found:
            self.stats.inc_value(SUSPICIOUS_DATES_KEY)
