"""Watch mode's polling policy (oilnews.spiders.watch_policy) on a hand-driven clock, and the replica's
validators and publishing clock it is tested against."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from oilnews.replica.server import ReplicaServer
from oilnews.spiders.watch_policy import (
    FEED,
    LISTING,
    REFRESH,
    SITEMAP,
    TICKER,
    Source,
    WatchSchedule,
    sources,
)
from tests.helpers import make_crawler


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def schedule(*extra: Source) -> tuple[WatchSchedule, Clock]:
    clock = Clock()
    feed = Source("rss", FEED, "http://x/rss/main", min_seconds=60, max_seconds=180)
    return WatchSchedule([feed, *extra], clock=clock), clock


# (what the polls found, the feed's interval after each): halved on news, x1.5 when quiet,
# x2 on failure, always within [min, max].
@pytest.mark.parametrize(
    ("outcomes", "intervals"),
    [
        (["quiet", "quiet", "quiet", "quiet"], [90, 135, 180, 180]),
        (["quiet", "quiet", "new", "new", "new"], [90, 135, 67.5, 60, 60]),
        (["fail", "fail", "fail"], [120, 180, 180]),
        (["fail", "new"], [120, 60]),
    ],
)
def test_interval_adapts_within_its_bounds(outcomes: list[str], intervals: list[float]) -> None:
    plan, clock = schedule()
    feed = plan["rss"]
    for outcome, expected in zip(outcomes, intervals, strict=True):
        plan.sent(feed)
        if outcome == "fail":
            plan.failed(feed)
        else:
            plan.answered(feed, 1 if outcome == "new" else 0)
        assert feed.interval == pytest.approx(expected)
        # the next poll is due after the interval, +-10% jitter, never before the minimum
        wait = feed.due_at - clock.now
        assert max(60, expected * 0.9) <= wait <= expected * 1.1
        clock.now = feed.due_at


def test_due_sources_most_overdue_first_and_never_twice_in_flight() -> None:
    listing = Source("listing:A", LISTING, "http://x/A/", 60, 600)
    refresh = Source("refresh", REFRESH, "", 3600, 3600, adaptive=False, conditional=False)
    plan, clock = schedule(listing, refresh)
    assert [s.name for s in plan.due()] == ["rss", "listing:A"]  # the refresh waits an interval
    plan.sent(plan["rss"])
    assert [s.name for s in plan.due()] == ["listing:A"]  # in flight: not due again
    plan.sent(listing)
    assert plan.due() == [] and plan.seconds_to_next() == pytest.approx(3600)
    plan.answered(listing, 0)
    clock.now += 100
    assert [s.name for s in plan.due()] == ["listing:A"]


def test_validators_are_sent_back_and_a_listing_hash_tells_an_unchanged_page() -> None:
    plan, _ = schedule()
    feed = plan["rss"]
    assert feed.headers() == {}
    feed.remember('"abc"', "Tue, 01 Dec 2026 10:00:00 GMT")
    assert feed.headers() == {"If-None-Match": '"abc"', "If-Modified-Since": "Tue, 01 Dec 2026 10:00:00 GMT"}
    ticker = Source("ticker", TICKER, "http://x/A/", 900, 900, adaptive=False, conditional=False)
    ticker.remember('"abc"', None)
    assert ticker.headers() == {}  # the ticker wants a full page every time
    assert feed.listing_changed(["a", "b"]) and not feed.listing_changed(["a", "b"])
    assert feed.listing_changed(["c", "a", "b"])


def test_an_outage_is_every_poll_failing_not_one_source() -> None:
    listing = Source("listing:A", LISTING, "http://x/A/", 60, 600)
    plan, clock = schedule(listing)
    for source in (plan["rss"], listing):
        plan.sent(source)
    plan.failed(plan["rss"])
    started = clock.now
    clock.now += 30
    assert plan.status()["outage_seconds"] == 30 and plan.status()["failing"] == ["rss"]
    plan.answered(listing, 0)  # one source still answers: the site is up
    assert plan.status()["outage_seconds"] is None
    plan.sent(listing)
    plan.failed(listing)
    clock.now = started + 100
    assert plan.status()["outage_seconds"] == 70


def test_sources_from_settings() -> None:
    crawler = make_crawler(
        OILNEWS_WATCH_MIN_SECONDS=60,
        OILNEWS_WATCH_MAX_SECONDS=30,  # below the minimum: the minimum wins
        OILNEWS_WATCH_SITEMAP_MINUTES=0,  # off
        OILNEWS_WATCH_TICKER_MINUTES=15,
    )
    found = {s.name: s for s in sources(crawler.settings, "http://x", ["Energy/Coal", "Energy/Oil"], "")}
    assert list(found) == ["rss", "listing:Energy/Coal", "listing:Energy/Oil", "ticker", "refresh"]
    assert (found["rss"].min_seconds, found["rss"].max_seconds) == (60, 60)
    assert found["listing:Energy/Oil"].url == "http://x/Energy/Oil/"
    assert found["ticker"].url == "http://x/Energy/Coal/" and found["ticker"].interval == 900
    assert SITEMAP not in {s.kind for s in found.values()}
    assert "chart" not in found  # no chart path, no browser


def _get(url: str, **headers: str) -> tuple[int, Any, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_replica_serves_validators_and_304() -> None:
    with ReplicaServer(20) as site:
        status, headers, body = _get(site.url + "/rss/main")
        etag, modified = headers["ETag"], headers["Last-Modified"]
        assert status == 200 and etag and modified and body
        assert _get(site.url + "/rss/main", **{"If-None-Match": etag})[0] == 304
        assert _get(site.url + "/rss/main", **{"If-Modified-Since": modified})[0] == 304
        assert (
            _get(site.url + "/rss/main", **{"If-None-Match": '"other"', "If-Modified-Since": modified})[0]
            == 200
        )
        site.publish(21)
        assert _get(site.url + "/rss/main", **{"If-None-Match": etag})[0] == 200  # new content
        assert _get(site.url + "/Energy/Crude-Oil/")[1]["ETag"]
        article = site.state.catalogue.path(3)
        assert _get(site.url + article)[1]["ETag"] is None  # article pages carry none
        site.state.validators = False
        assert _get(site.url + "/rss/main", **{"If-None-Match": etag})[0] == 200


def test_replica_publishes_on_a_clock_dated_the_moment_it_appears() -> None:
    with ReplicaServer(10) as site:
        started = time.time()
        site.publish_every(0.5, until=started + 1.6)
        time.sleep(2.2)
        catalogue = site.state.catalogue
        assert catalogue.size == 13
        for index in range(10, 13):
            assert abs(catalogue.published(index).timestamp() - (started + (index - 9) * 0.5)) < 0.05
        assert catalogue.path(12) in _get(site.url + "/rss/main")[2].decode()
