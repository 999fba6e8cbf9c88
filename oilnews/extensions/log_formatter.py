"""Scrapy's LOG_FORMATTER for oilnews: a dropped item is logged as its reason, not the whole item."""

from __future__ import annotations

from typing import Any

from scrapy.logformatter import LogFormatter, LogFormatterResult


class OilnewsLogFormatter(LogFormatter):
    """Scrapy's messages, with a dropped item told by its reason only (its URL is in the reason)."""

    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Any) -> LogFormatterResult:
        result = super().dropped(item, exception, response, spider)
        return {"level": result["level"], "msg": "Dropped: %(reason)s", "args": {"reason": str(exception)}}
