"""Stats keys live under `oilnews/`; skipped work is also kept by URL so nothing vanishes."""

from __future__ import annotations

from typing import Any

PREFIX = "oilnews"
SKIPPED_URLS_KEY = f"{PREFIX}/skipped_urls"
MAX_SKIPPED_URLS_PER_REASON = 200  # the count is exact; the URL list is a bounded sample
# Failed requests by kind (oilnews.spiders.failures): pages gone (404/410, not errors) and
# requests that failed (what the health check's error rate counts).
GONE_PREFIX = f"{PREFIX}/gone"
ERROR_PREFIX = f"{PREFIX}/request_failed"


def key(*parts: str) -> str:
    return "/".join((PREFIX, *parts))


def record_skip(stats: Any, url: str, reason: str) -> None:
    """Count a skipped page or item under its reason and keep its URL for `crawl_runs`."""
    stats.inc_value(key("skipped", reason))
    skipped = stats.get_value(SKIPPED_URLS_KEY)
    if skipped is None:
        skipped = []
        stats.set_value(SKIPPED_URLS_KEY, skipped)
    # Per reason, so a flood of one kind (a page of 10,000 dead links) cannot hide another.
    if stats.get_value(key("skipped", reason)) <= MAX_SKIPPED_URLS_PER_REASON:
        skipped.append({"url": url, "reason": reason})
