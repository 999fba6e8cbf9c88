"""The spider's routing, without a crawl: responses in, requests and items out.

The crawler is Scrapy's own test crawler (`scrapy.utils.test.get_crawler`) with the project's
settings and add-ons; responses are the replica's pages rendered in-process (the same markup
the end-to-end crawls read).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from oilnews.extensions.known import KnownIndex
from oilnews.items import ArticleItem, PriceQuoteItem
from oilnews.replica import pages
from oilnews.replica.content import Catalogue
from oilnews.spiders.frontier import LISTED_PRIORITY
from oilnews.spiders.news import NewsSpider
from oilnews.storage.queries import KnownArticle
from tests.helpers import make_crawler

BASE = "http://127.0.0.1:8900"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
CATALOGUE = Catalogue(120)
SECTION = CATALOGUE.section_of(0)


def spider(**settings: Any) -> NewsSpider:
    settings.setdefault("OILNEWS_SITE_URL", BASE)
    settings.setdefault("OILNEWS_RENDER", False)
    settings.setdefault("OILNEWS_DATABASE_URL", "sqlite:///:memory:")
    crawler = make_crawler(NewsSpider, **settings)
    instance = NewsSpider.from_crawler(crawler)
    crawler.spider = instance
    instance._configure()
    return instance


def html(url: str, text: str, **kwargs: Any) -> HtmlResponse:
    return HtmlResponse(url=url, body=text.encode("utf-8"), encoding="utf-8", **kwargs)


def listing(page: int) -> HtmlResponse:
    text = pages.render_listing(CATALOGUE, SECTION, page, BASE, NOW)
    assert text is not None
    return html(BASE + f"/{SECTION}/Page-{page}.html", text)


def article(index: int) -> HtmlResponse:
    entry = CATALOGUE.article(index)
    return html(BASE + entry.path, pages.render_article(CATALOGUE, entry, BASE, NOW))


def collected(callback_output: AsyncIterator[Any]) -> list[Any]:
    """What an (async) spider callback yields, run to its end."""

    async def drain() -> list[Any]:
        return [element async for element in callback_output]

    return asyncio.run(drain())


def requests_of(output: Any) -> list[Request]:
    return [r for r in output if isinstance(r, Request)]


def section_pages() -> int:
    return -(-len(CATALOGUE.section_members[SECTION]) // pages.PER_PAGE)


def test_listing_page_requests_its_articles_first_then_the_next_page() -> None:
    s = spider()
    out = collected(s.parse_listing(listing(1), section=SECTION, page=1))
    articles = [r for r in requests_of(out) if r.callback == s.parse_article]
    nexts = [r for r in requests_of(out) if r.callback == s.parse_listing]
    listed = CATALOGUE.section_members[SECTION][: pages.PER_PAGE]
    assert [r.url for r in articles] == [BASE + CATALOGUE.path(i) for i in listed]
    assert all(r.priority == LISTED_PRIORITY and r.cb_kwargs == {"hops": 0} for r in articles)
    if section_pages() > 1:
        assert [(r.url, r.cb_kwargs) for r in nexts] == [
            (BASE + f"/{SECTION}/Page-2.html", {"section": SECTION, "page": 2})
        ]
    assert any(isinstance(i, PriceQuoteItem) for i in out), "the ticker is read from the first page"


def test_max_pages_stops_pagination() -> None:
    s = spider(OILNEWS_MAX_PAGES=1)
    out = requests_of(collected(s.parse_listing(listing(1), section=SECTION, page=1)))
    assert not [r for r in out if r.callback == s.parse_listing]


def test_since_skips_older_entries_and_stops_at_an_older_page() -> None:
    newest = max(CATALOGUE.published(i) for i in CATALOGUE.section_members[SECTION])
    s = spider(OILNEWS_SINCE=(newest + timedelta(days=1)).date().isoformat())
    out = requests_of(collected(s.parse_listing(listing(1), section=SECTION, page=1)))
    assert out == []


def test_an_article_is_requested_once_per_run() -> None:
    s = spider()
    first = requests_of(collected(s.parse_listing(listing(1), section=SECTION, page=1)))
    again = requests_of(collected(s.parse_listing(listing(1), section=SECTION, page=1)))
    assert first and not [r for r in again if r.callback == s.parse_article]


def test_stored_articles_are_skipped_unless_the_sitemap_says_they_changed() -> None:
    s = spider()
    url = BASE + CATALOGUE.path(0)
    seen = datetime.now(UTC) - timedelta(days=30)
    s.known.articles[url] = KnownArticle("hash", published_at=seen, last_seen_at=seen)
    assert s.article_request(url, hops=0) is None
    assert s.crawler.stats.get_value("oilnews/skipped/known") == 1
    changed = s.article_request(url, hops=0, modified_at=datetime.now(UTC))
    assert changed is not None and changed.url == url


def test_article_yields_its_item_and_follows_sidebar_links_within_the_hop_limit() -> None:
    s = spider(OILNEWS_MAX_HOPS=1)
    out = collected(s.parse_article(article(10), hops=0))
    items = [i for i in out if isinstance(i, ArticleItem)]
    follows = requests_of(out)
    assert len(items) == 1 and items[0].url == BASE + CATALOGUE.path(10)
    assert follows and all(r.cb_kwargs == {"hops": 1} for r in follows)
    assert all(r.url.startswith(BASE + "/") and r.url.endswith(".html") for r in follows)
    assert requests_of(collected(s.parse_article(article(11), hops=1))) == []  # at the limit: no more hops


def test_follow_cap_bounds_the_requests_one_page_adds() -> None:
    s = spider(OILNEWS_MAX_FOLLOW_PER_PAGE=2)
    assert len(requests_of(collected(s.parse_article(article(10), hops=0)))) == 2
    assert s.crawler.stats.get_value("oilnews/links/follow_capped") == 1


def test_off_site_and_non_article_links_are_not_requested() -> None:
    s = spider()
    assert s.article_request("https://example.org/Energy/Coal/A.html", hops=1) is None
    assert s.article_request(BASE + f"/{SECTION}/Page-3.html", hops=1) is None
    assert s.article_request(BASE + "/Energy/Coal/A.html", hops=1) is not None


def test_empty_and_non_html_pages_are_recorded_not_parsed() -> None:
    s = spider()
    assert collected(s.parse_article(html(BASE + "/Energy/Coal/E.html", ""), hops=0)) == []
    binary = Response(url=BASE + "/Energy/Coal/P.html", body=b"%PDF-1.4")
    assert collected(s.parse_article(binary, hops=0)) == []
    reasons = {entry["reason"] for entry in s.crawler.stats.get_value("oilnews/skipped_urls")}
    assert reasons == {"empty_page", "not_html"}


def test_sitemap_index_entries_become_sitemap_requests() -> None:
    s = spider()
    index = (
        '<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{BASE}/sitemap_articles_2025_1.xml</loc></sitemap></sitemapindex>"
    )
    response = TextResponse(url=BASE + "/sitemap.xml", body=index.encode(), encoding="utf-8")
    (nested,) = requests_of(collected(s.parse_sitemap(response)))
    assert nested.url == BASE + "/sitemap_articles_2025_1.xml" and nested.callback == s.parse_sitemap


@pytest.mark.parametrize(
    ("status", "optional", "stat"),
    [
        (404, False, "oilnews/gone/http_404"),
        (410, False, "oilnews/gone/http_410"),
        (404, True, "oilnews/optional_missing"),
        (500, False, "oilnews/request_failed/http_500"),
        (403, False, "oilnews/request_failed/http_403"),
    ],
)
def test_failed_requests_are_counted_by_kind(status: int, optional: bool, stat: str) -> None:
    s = spider()
    request = Request(BASE + "/Energy/Coal/Gone.html", meta={"optional": optional})
    response = HtmlResponse(url=request.url, status=status, request=request, body=b"")
    failure = Failure(HttpError(response))
    failure.request = request  # type: ignore[attr-defined]
    s.on_error(failure)
    assert s.crawler.stats.get_value(stat) == 1


def test_start_requests_listings_rss_and_recent_sitemaps() -> None:
    s = spider(OILNEWS_SECTIONS=["Energy/Coal", "Energy/Crude-Oil"], OILNEWS_SITEMAP_LOOKBACK_MONTHS=2)

    async def collect() -> list[Request]:
        return [r async for r in s.start()]

    started = asyncio.run(collect())
    urls = [r.url for r in started]
    assert urls[:3] == [BASE + "/Energy/Coal/", BASE + "/Energy/Crude-Oil/", BASE + "/rss/main"]
    sitemaps = [r for r in started if "/sitemap_articles_" in r.url]
    assert len(sitemaps) == 2 and all(r.meta.get("optional") for r in sitemaps)
    assert isinstance(KnownIndex.of(s.crawler), KnownIndex)


def test_listing_page_cap_is_the_last_bound() -> None:
    s = spider(OILNEWS_MAX_LISTING_PAGES=1)
    out = requests_of(collected(s.parse_listing(listing(1), section=SECTION, page=1)))
    assert section_pages() > 1 and not [r for r in out if r.callback == s.parse_listing]
    assert s.crawler.stats.get_value("oilnews/listing/stopped_page_cap") == 1


def test_a_listing_page_that_lists_nothing_new_ends_pagination() -> None:
    s = spider()
    collected(s.parse_listing(listing(1), section=SECTION, page=1))
    again = requests_of(
        collected(s.parse_listing(listing(1), section=SECTION, page=2))
    )  # page 1's list again
    assert again == [] and s.crawler.stats.get_value("oilnews/listing/stopped_nothing_new") == 1
