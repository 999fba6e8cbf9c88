"""What a crawl has seen, in 8 bytes an entry: the per-URL memory of a long crawl.

A crawl of the whole archive decides once per URL (requested, skipped, listed, processed) and
drops every request Scrapy has already scheduled. Kept as sets of strings, that state cost about
0.6 KB an article and grew for as long as the crawl ran: 229 to 287 MB over the second half of
a 100,000-article crawl (issue 15). A `DigestSet` keeps a 64-bit digest of each key instead:
a few sorted `array('Q')` runs (8 bytes an entry) and a small set of recent ones. Two different
keys share a digest with a chance of about n**2 / 2**65: for a million URLs, one in thirty
million; such a URL would be taken for one already seen.

The runs are levels, as in a log-structured merge: the recent set, when full, becomes a sorted
run, and two runs of about the same size are merged into one (Timsort merges two sorted runs in
linear time). Each digest is so copied about log2(n / RECENT_LIMIT) times in all, where one
sorted array merged with every batch of recent ones had copied the whole array each time
(quadratic: a million digests took 50 s, with pauses of 0.6 s). No run grows past RUN_LIMIT, so
no merge (a pause of the reactor, which calls `add`) holds it long (bench digests); a lookup
bisects each run, a handful for a million entries.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

from scrapy import Request
from scrapy.dupefilters import RFPDupeFilter

# The recent entries kept as a Python set before they become a sorted run (70 bytes an entry).
RECENT_LIMIT = 4096
# The largest run a merge makes: 2**18 digests (2 MiB). At 2**19 the largest merge held the
# event loop 52-88 ms on this machine on 2026-12-08 (bench digests), over the 50 ms a pause may take.
RUN_LIMIT = 2**18


def digest(key: str | bytes) -> int:
    """A 64-bit digest of a string (a URL, a content hash) or of bytes (a fingerprint)."""
    data = key.encode("utf-8", "surrogatepass") if isinstance(key, str) else key
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class DigestSet:
    """A set of strings that keeps only their 64-bit digests; `in`, `add`, `len`, `|=`."""

    __slots__ = ("_recent", "_runs", "_size")

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._runs: list[array[int]] = []  # sorted, largest first
        self._recent: set[int] = set()
        self._size = 0  # digests in the runs
        for k in keys:
            self.add(k)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str | bytes):
            return False
        return self.contains_digest(digest(key))

    def contains_digest(self, value: int) -> bool:
        if value in self._recent:
            return True
        for run in self._runs:
            i = bisect_left(run, value)
            if i < len(run) and run[i] == value:
                return True
        return False

    def add(self, key: str | bytes) -> bool:
        """Add a key; True if it was not there before."""
        return self.add_digest(digest(key))

    def add_digest(self, value: int) -> bool:
        if self.contains_digest(value):
            return False
        self._recent.add(value)
        if len(self._recent) >= RECENT_LIMIT:
            self._seal()
        return True

    def _seal(self) -> None:
        """The recent set becomes a sorted run; runs of about the same size are merged."""
        runs = self._runs
        runs.append(array("Q", sorted(self._recent)))
        self._size += len(self._recent)
        self._recent = set()
        while (
            len(runs) >= 2
            and len(runs[-2]) <= 2 * len(runs[-1])
            and len(runs[-2]) + len(runs[-1]) <= RUN_LIMIT
        ):
            newer, older = runs.pop(), runs.pop()
            merged = older.tolist()
            merged.extend(newer.tolist())
            merged.sort()  # two sorted runs: Timsort merges them in one linear pass
            runs.append(array("Q", merged))

    def __len__(self) -> int:
        return self._size + len(self._recent)

    def __ior__(self, keys: Iterable[str]) -> DigestSet:
        for k in keys:
            self.add(k)
        return self


class DigestDupeFilter(RFPDupeFilter):
    """Scrapy's duplicate filter (DUPEFILTER_CLASS), the same fingerprints, 8 bytes each.

    RFPDupeFilter keeps every 20-byte fingerprint as a bytes object in a set (about 90 bytes
    a request). With a JOBDIR, Scrapy's own bookkeeping and file are used unchanged.
    """

    def __init__(self, path: str | None = None, debug: bool = False, *, fingerprinter: Any = None) -> None:
        super().__init__(path, debug, fingerprinter=fingerprinter)
        self.digests = DigestSet()

    def request_seen(self, request: Request) -> bool:
        if self.file is not None:  # a JOBDIR: Scrapy's own bookkeeping, persisted
            return bool(super().request_seen(request))
        return not self.digests.add(self.fingerprinter.fingerprint(request))
