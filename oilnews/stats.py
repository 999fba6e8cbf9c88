"""Stats keys live under `oilnews/`; skipped work is also kept by URL so nothing vanishes."""

from __future__ import annotations

from typing import Any

PREFIX = "oilnews"
SKIPPED_URLS_KEY = f"{PREFIX}/skipped_urls"
MAX_SKIPPED_URLS = 1000


def key(*parts: str) -> str:
    return "/".join((PREFIX, *parts))


def record_skip(stats: Any, url: str, reason: str) -> None:
    """Count a skipped page or item under its reason and keep its URL for `crawl_runs`."""
    stats.inc_value(key("skipped", reason))
    skipped = stats.get_value(SKIPPED_URLS_KEY)
    if skipped is None:
        skipped = []
        stats.set_value(SKIPPED_URLS_KEY, skipped)
    if len(skipped) < MAX_SKIPPED_URLS:
        skipped.append({"url": url, "reason": reason})
