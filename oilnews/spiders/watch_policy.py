"""Watch mode's polling policy: which source to ask next, when, and with which validators.

`oilnews watch` (the `watch` spider) is one long-running process that polls the cheapest
signals of new content, the RSS feed and page 1 of each section listing, and fetches an
article the moment it is listed. This module holds no Scrapy: a `Source` is one URL polled
on its own clock, and `WatchSchedule` says which source is due. The spider only routes.

- Conditional requests: a source remembers the `ETag` / `Last-Modified` it was served and
  sends them back (`If-None-Match` / `If-Modified-Since`); a `304` costs a few hundred bytes.
  Where the site sends no validators, a hash of the listed URLs tells an unchanged page.
- Adaptive intervals (the feed and the listings): halved while polls find new articles,
  half as long again after each poll that finds none, never below OILNEWS_WATCH_MIN_SECONDS
  (the polite minimum) nor above the source's maximum; doubled after a failed poll, so an
  outage is polled less and less often, never given up.
- Fixed schedules, slower: the current month's sitemap (lastmod reveals edits), the ticker,
  the refresh-window re-fetch and the rendered chart.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from scrapy.settings import BaseSettings

from oilnews.site import RSS_PATH, listing_path

# Interval changes after a poll (adaptive sources).
SHRINK_WHEN_NEW = 0.5
GROW_WHEN_QUIET = 1.5
GROW_WHEN_FAILED = 2.0
JITTER = 0.1  # +-10%: sources that started together drift apart instead of polling in bursts

# Source kinds: what the spider does with the answer.
FEED = "feed"  # RSS
LISTING = "listing"  # page 1 of a section
TICKER = "ticker"  # a listing page fetched without validators, for the price ticker in its header
SITEMAP = "sitemap"  # the current month's sitemap
REFRESH = "refresh"  # the stored articles still in the refresh window, fetched again
CHART = "chart"  # the rendered price chart

POLL_KINDS = frozenset({FEED, LISTING, TICKER, SITEMAP})  # the answer lists articles


@dataclass
class Source:
    name: str
    kind: str
    url: str
    min_seconds: float
    max_seconds: float
    adaptive: bool = True
    conditional: bool = True
    interval: float = 0.0
    due_at: float = 0.0  # on the schedule's clock
    in_flight: bool = False
    etag: str | None = None
    last_modified: str | None = None
    listed_hash: str | None = None
    polls: int = 0
    failures: int = 0  # in a row

    def __post_init__(self) -> None:
        self.interval = self.interval or self.min_seconds

    def headers(self) -> dict[str, str]:
        """The validators of the last answer, to send back."""
        if not self.conditional:
            return {}
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def remember(self, etag: str | None, last_modified: str | None) -> None:
        self.etag, self.last_modified = etag or None, last_modified or None

    def listing_changed(self, urls: Iterable[str]) -> bool:
        """For a site without validators: whether the listed URLs differ from the last poll."""
        digest = hashlib.sha1("\n".join(urls).encode("utf-8")).hexdigest()
        changed, self.listed_hash = digest != self.listed_hash, digest
        return changed


@dataclass
class WatchSchedule:
    sources: list[Source]
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    failing_since: float | None = None  # the first failed poll since the last answered one

    def __post_init__(self) -> None:
        now = self.clock()
        for source in self.sources:
            # Every source is polled once at start, but for the refresh: the articles it would
            # fetch again were just stored or checked by the run before.
            source.due_at = now + source.interval if source.kind == REFRESH else now

    def __getitem__(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)

    def due(self) -> list[Source]:
        """Sources due now and not waiting for an answer, most overdue first."""
        now = self.clock()
        ready = [s for s in self.sources if not s.in_flight and s.due_at <= now]
        return sorted(ready, key=lambda s: s.due_at)

    def seconds_to_next(self) -> float:
        waiting = [s.due_at for s in self.sources if not s.in_flight]
        return max(0.0, min(waiting) - self.clock()) if waiting else 1.0

    def sent(self, source: Source) -> None:
        source.in_flight = True
        source.polls += 1

    def answered(self, source: Source, new_articles: int) -> None:
        """A poll that worked: `new_articles` new ones found (0 for a 304 or the same list)."""
        source.in_flight = False
        source.failures = 0
        self.failing_since = None
        if source.adaptive:
            factor = SHRINK_WHEN_NEW if new_articles else GROW_WHEN_QUIET
            source.interval = self._bounded(source, source.interval * factor)
        self._next(source)

    def failed(self, source: Source) -> None:
        source.in_flight = False
        source.failures += 1
        if self.failing_since is None:
            self.failing_since = self.clock()
        source.interval = self._bounded(source, source.interval * GROW_WHEN_FAILED)
        self._next(source)

    def _bounded(self, source: Source, interval: float) -> float:
        return min(source.max_seconds, max(source.min_seconds, interval))

    def _next(self, source: Source) -> None:
        jitter = 1 + self.rng.uniform(-JITTER, JITTER) if source.adaptive else 1.0
        # Jitter never takes an interval below the polite minimum.
        source.due_at = self.clock() + max(source.min_seconds, source.interval * jitter)

    def status(self) -> dict[str, Any]:
        """What the heartbeat records of the polling. An outage: no poll of any source has
        been answered since the first one that failed (one source failing alone is not)."""
        now = self.clock()
        outage = self.failing_since
        return {
            "sources": len(self.sources),
            "polls": sum(s.polls for s in self.sources),
            "failing": sorted(s.name for s in self.sources if s.failures),
            "outage_seconds": None if outage is None else round(now - outage, 1),
            "intervals": {s.name: round(s.interval, 1) for s in self.sources if s.adaptive},
        }


def sources(settings: BaseSettings, site_url: str, sections: list[str], chart_path: str) -> list[Source]:
    """The sources a watcher polls, from the settings (seconds and minutes may be fractions:
    the freshness benchmark runs the same policy on a sped-up clock)."""
    low = settings.getfloat("OILNEWS_WATCH_MIN_SECONDS")
    feed_max = max(low, settings.getfloat("OILNEWS_WATCH_MAX_SECONDS"))
    listing_max = max(low, settings.getfloat("OILNEWS_WATCH_LISTING_MAX_SECONDS"))
    found: list[Source] = []
    if settings.getbool("OILNEWS_USE_RSS"):
        found.append(Source("rss", FEED, site_url + RSS_PATH, low, feed_max))
    for section in sections:
        found.append(
            Source(f"listing:{section}", LISTING, site_url + listing_path(section), low, listing_max)
        )

    def every(minutes_setting: str) -> float:
        return max(low, settings.getfloat(minutes_setting) * 60)

    fixed = (
        ("ticker", TICKER, site_url + listing_path(sections[0]), "OILNEWS_WATCH_TICKER_MINUTES", False),
        ("sitemap", SITEMAP, "", "OILNEWS_WATCH_SITEMAP_MINUTES", True),  # the URL moves each month
        ("refresh", REFRESH, "", "OILNEWS_WATCH_REFRESH_MINUTES", False),
    )
    for name, kind, url, setting, conditional in fixed:
        if settings.getfloat(setting) > 0:
            seconds = every(setting)
            found.append(Source(name, kind, url, seconds, seconds, adaptive=False, conditional=conditional))
    if chart_path and settings.getbool("OILNEWS_RENDER_AVAILABLE"):
        seconds = max(low, settings.getfloat("OILNEWS_CHART_EVERY_HOURS") * 3600)
        found.append(Source("chart", CHART, site_url + chart_path, seconds, seconds, False, False))
    return found
