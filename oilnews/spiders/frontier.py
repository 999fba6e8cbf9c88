"""The news spider's frontier: which article URLs a run requests (each once), and the linked
ones waiting as bare URLs until the scheduler runs low.

Each article page links ~25 others, mostly seen already: deciding once per URL here spares
Scrapy a Request, a fingerprint, two signals and a dupefilter lookup each. The decisions are
8 bytes a URL (oilnews.seen.DigestSet), not a set of strings.

Articles found only through links wait as bare URLs (about 150 bytes each) rather than as
Requests (about 2 KB each, with their meta, headers and callbacks), handed out FRONTIER_CHUNK
at a time whenever the scheduler holds fewer than FRONTIER_LOW requests. On a replica of
30,000 articles the scheduler had held 22,000 link Requests at its peak (issue 15). With a
shared frontier (Redis) the scheduler's queue is not in this process's memory and every worker
must see the links at once: then nothing waits here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from datetime import datetime

from oilnews.extensions.known import KnownIndex
from oilnews.seen import DigestSet
from oilnews.urls import is_article_url

# Scheduling order: listed articles first (the queue stays bounded by a listing page), then
# listing/feed pages, then articles found only through links, nearest first. So every listed
# article is reached at hop 0 or 1, and its links are followed even with a small hop limit.
LISTED_PRIORITY = 10
LISTING_PRIORITY = 5
FRONTIER_LOW = 1000
FRONTIER_CHUNK = 500


def article_priority(hops: int) -> int:
    return LISTED_PRIORITY if hops == 0 else LISTING_PRIORITY - hops


class LinkFrontier:
    def __init__(self, known: KnownIndex, site_url: str, max_hops: int, defer: bool) -> None:
        self.known = known
        self.site_url = site_url
        self.defer = defer  # linked articles wait here (no shared frontier)
        self._requested = DigestSet()  # article URLs requested this run
        self._skipped = DigestSet()  # ... and those decided against
        self._links: list[deque[str]] = [deque() for _ in range(max_hops + 1)]  # by hops

    def wanted(self, url: str, modified_at: datetime | None = None) -> bool:
        """Whether to request this article (once per URL and run; marked requested if so).
        A stored article skipped once is skipped again, unless a sitemap now says it changed."""
        if url in self._requested or (modified_at is None and url in self._skipped):
            return False
        if not is_article_url(url, self.site_url) or not self.known.should_fetch(url, modified_at):
            self._skipped.add(url)
            return False
        self._requested.add(url)
        return True

    def wait(self, url: str, hops: int) -> None:
        """A linked article to request later, `hops` away from a listing."""
        self._links[hops].append(url)

    def take(self, queued: int, force: bool = False) -> Iterator[tuple[str, int]]:
        """(url, hops) of waiting links, nearest first, while the scheduler holds fewer than
        FRONTIER_LOW requests (`queued`), at most FRONTIER_CHUNK; or `force`: it is empty and
        the spider idle."""
        if not force and queued >= FRONTIER_LOW:
            return
        budget = FRONTIER_CHUNK
        for hops, urls in enumerate(self._links):
            while urls and budget:
                budget -= 1
                yield urls.popleft(), hops
