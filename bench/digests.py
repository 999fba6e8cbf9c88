"""The URL digest set at a million entries (issue 27): adding 1,000,000 digests, the time its
merges take in all, the longest single add (a pause of the reactor, which calls it), and
lookups. The previous design (one sorted array merged with each batch of recent digests) is
measured beside it on the same digests."""

from __future__ import annotations

import random
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable

from bench.common import write_section
from oilnews.seen import RECENT_LIMIT, DigestSet

N = 1_000_000
N_OLD = N


class OneSortedArray:
    """The set as it was before: every merge copies and re-sorts the whole array."""

    def __init__(self) -> None:
        self.sorted = array("Q")
        self.recent: set[int] = set()

    def contains_digest(self, value: int) -> bool:
        if value in self.recent:
            return True
        i = bisect_left(self.sorted, value)
        return i < len(self.sorted) and self.sorted[i] == value

    def add_digest(self, value: int) -> bool:
        if self.contains_digest(value):
            return False
        self.recent.add(value)
        if len(self.recent) >= RECENT_LIMIT:
            self.sorted = array("Q", sorted([*self.sorted, *self.recent]))
            self.recent = set()
        return True


class TimedDigestSet(DigestSet):
    """The set as oilnews has it, with the time its merges take summed."""

    __slots__ = ("merging",)

    def __init__(self) -> None:
        super().__init__()
        self.merging = 0.0

    def _seal(self) -> None:
        before = time.perf_counter()
        super()._seal()
        self.merging += time.perf_counter() - before


def fill(add: Callable[[int], bool], values: list[int]) -> tuple[float, float]:
    """(seconds for all adds, the longest single add in seconds)."""
    longest = 0.0
    started = time.perf_counter()
    for value in values:
        before = time.perf_counter()
        add(value)
        longest = max(longest, time.perf_counter() - before)
    return time.perf_counter() - started, longest


HEARTBEAT = 0.010  # seconds between the ticks of the event loop's heartbeat timer
PAGE_LINKS = 30  # digests a page adds at once (an article links ~30), then the loop runs again


def under_heartbeat(values: list[int]) -> float:
    """The adds as a crawl makes them, a page's links at a time between turns of an asyncio
    event loop, with a timer that should tick every HEARTBEAT: its longest lateness, seconds
    (what a merge holds the loop up by)."""
    import asyncio

    digests = DigestSet()
    late = 0.0

    async def heartbeat(done: asyncio.Event) -> None:
        nonlocal late
        loop = asyncio.get_running_loop()
        due = loop.time() + HEARTBEAT
        while not done.is_set():
            await asyncio.sleep(max(0.0, due - loop.time()))
            late = max(late, loop.time() - due)
            due = max(due + HEARTBEAT, loop.time())

    async def crawl() -> None:
        done = asyncio.Event()
        ticking = asyncio.create_task(heartbeat(done))
        for start in range(0, len(values), PAGE_LINKS):
            for value in values[start : start + PAGE_LINKS]:
                digests.add_digest(value)
            await asyncio.sleep(0)  # the next response
        done.set()
        await ticking

    asyncio.run(crawl())
    return late


def main() -> None:
    rng = random.Random(27)
    values = [rng.getrandbits(64) for _ in range(N)]
    digests = TimedDigestSet()
    total, longest = fill(digests.add_digest, values)
    misses = [rng.getrandbits(64) for _ in range(100_000)]
    started = time.perf_counter()
    for value in values[:100_000]:
        digests.contains_digest(value)
    hit_us = (time.perf_counter() - started) / 100_000 * 1e6
    started = time.perf_counter()
    for value in misses:
        digests.contains_digest(value)
    miss_us = (time.perf_counter() - started) / 100_000 * 1e6

    late = under_heartbeat(values)
    old = OneSortedArray()
    old_total, old_longest = fill(old.add_digest, values[:N_OLD])
    lines = [
        f"{N:,} random 64-bit digests added one by one (each add looks the digest up first).",
        "",
        "| design | digests | all adds | of which merging | longest add (a reactor pause) |",
        "|---|---:|---:|---:|---:|",
        f"| levelled sorted runs (now) | {N:,} | {total:.2f} s | {digests.merging:.2f} s | {longest * 1000:.1f} ms |",
        f"| one sorted array (before) | {N_OLD:,} | {old_total:.2f} s | | {old_longest * 1000:.1f} ms |",
        "",
        f"Lookups in the set of {N:,}: {hit_us:.2f} us a hit, {miss_us:.2f} us a miss "
        f"({len(digests._runs)} runs: {', '.join(f'{len(r):,}' for r in digests._runs)}).",
        f"Under an asyncio event loop, {PAGE_LINKS} digests a turn (a page's links) with a timer due every "
        f"{HEARTBEAT * 1000:.0f} ms: the timer's longest lateness over the {N:,} adds was {late * 1000:.1f} ms.",
        "Targets: 1,000,000 digests merged in under 2 s, no single add (and no event-loop pause) over 50 ms.",
    ]
    write_section("digests", "The URL digest set at a million (issue 27)", "python -m bench digests", lines)


if __name__ == "__main__":
    main()
