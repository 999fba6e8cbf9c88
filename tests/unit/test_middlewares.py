"""Every downloader and spider middleware of oilnews as a component (Scrapy's own test style):
built from `scrapy.utils.test.get_crawler` with the project's settings, fed requests and
responses, judged by what it returns and what it counts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Response
from scrapy.utils.misc import build_from_crawler

from oilnews.items import ArticleItem
from oilnews.middlewares.charset import Utf8CharsetMiddleware
from oilnews.middlewares.redirects import RedirectLoopMiddleware
from oilnews.middlewares.rendering import (
    ARTICLE_PAGE,
    RENDER_REASON,
    RENDERED,
    ChallengeRenderMiddleware,
    EmptyBodyRenderMiddleware,
)
from oilnews.middlewares.retry import BackoffRetryMiddleware, retry_delay
from oilnews.middlewares.scope import SiteScopeMiddleware
from oilnews.replica.pages import CHALLENGE_HTML
from oilnews.spiders.news import NewsSpider
from tests.helpers import make_crawler

SITE = "http://127.0.0.1:8900"


def component(cls: type, **settings: Any) -> Any:
    settings.setdefault("OILNEWS_SITE_URL", SITE)
    settings.setdefault("OILNEWS_RENDER", False)
    crawler = make_crawler(NewsSpider, **settings)
    crawler.spider = NewsSpider.from_crawler(crawler)
    return build_from_crawler(cls, crawler)


# -- SiteScopeMiddleware ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "meta", "refused_as"),
    [
        (SITE + "/Energy/Coal/A.html", {}, None),
        ("http://127.0.0.1:8901/Energy/Coal/A.html", {}, "offsite"),
        ("https://127.0.0.1:8900/Energy/Coal/A.html", {}, "offsite"),
        ("http://example.org/", {"redirect_urls": [SITE + "/Energy/Coal/A.html"]}, "redirect_offsite"),
    ],
)
def test_site_scope(url: str, meta: dict[str, Any], refused_as: str | None) -> None:
    scope = component(SiteScopeMiddleware)
    request = Request(url, meta=meta)
    if refused_as is None:
        assert scope.process_request(request) is None
        return
    with pytest.raises(IgnoreRequest):
        scope.process_request(request)
    assert scope.stats.get_value(f"oilnews/scope/{refused_as}") == 1
    (skipped,) = scope.stats.get_value("oilnews/skipped_urls")
    assert skipped["reason"] == refused_as and skipped["url"] == (meta.get("redirect_urls") or [url])[0]


# -- BackoffRetryMiddleware -------------------------------------------------------------------
def test_retry_delay_honours_retry_after_and_backs_off() -> None:
    assert retry_delay(1, "7", base=2.0, cap=60.0) == 7.0
    assert retry_delay(1, "600", base=2.0, cap=60.0) == 60.0  # capped
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry_delay(1, soon, base=2.0, cap=60.0) <= 30
    assert 1.5 <= retry_delay(1, None, base=2.0, cap=60.0) <= 2.5
    assert 6.0 <= retry_delay(3, None, base=2.0, cap=60.0) <= 10.0
    assert retry_delay(10, None, base=2.0, cap=60.0) <= 75.0


def test_retry_waits_then_retries_and_gives_up_after_retry_times() -> None:
    retry = component(BackoffRetryMiddleware, RETRY_TIMES=1, OILNEWS_RETRY_BACKOFF_BASE=0.01)
    request = Request(SITE + "/Energy/Coal/A.html")
    busy = HtmlResponse(url=request.url, status=503, headers={"Retry-After": "0"}, request=request)

    again = asyncio.run(retry.process_response(request, busy))
    assert isinstance(again, Request) and again.meta["retry_times"] == 1
    final = asyncio.run(retry.process_response(again, busy))
    assert final is busy  # given up: the spider's errback records it
    ok = HtmlResponse(url=request.url, status=200, request=request)
    assert asyncio.run(retry.process_response(request, ok)) is ok
    assert retry.crawler.stats.get_value("retry/count") == 1


def test_retry_on_a_connection_error() -> None:
    from twisted.internet.error import ConnectionRefusedError

    retry = component(BackoffRetryMiddleware, OILNEWS_RETRY_BACKOFF_BASE=0.001)
    request = Request(SITE + "/Energy/Coal/A.html")
    again = asyncio.run(retry.process_exception(request, ConnectionRefusedError()))
    assert isinstance(again, Request)
    assert asyncio.run(retry.process_exception(request, ValueError("not a network error"))) is None


# -- RedirectLoopMiddleware -------------------------------------------------------------------
def test_redirect_back_into_the_chain_is_recorded_and_stopped() -> None:
    loop = component(RedirectLoopMiddleware)
    first, second = SITE + "/Energy/Coal/A.html", SITE + "/Energy/Coal/B.html"
    request = Request(second, meta={"redirect_urls": [first]})
    forward = Response(second, status=302, headers={"Location": "/Energy/Coal/C.html"}, request=request)
    assert loop.process_response(request, forward) is forward
    back = Response(second, status=302, headers={"Location": "/Energy/Coal/A.html"}, request=request)
    with pytest.raises(IgnoreRequest):
        loop.process_response(request, back)
    assert loop.stats.get_value("oilnews/scope/redirect_loop") == 1
    assert loop.stats.get_value("oilnews/skipped_urls")[0] == {"url": first, "reason": "redirect_loop"}


# -- Utf8CharsetMiddleware --------------------------------------------------------------------
TITLE = "OPEC\u2019s \u201cQuiet\u201d Cut"


@pytest.mark.parametrize(
    ("header", "meta_charset", "body_encoding", "counted"),
    [
        ("iso-8859-1", "utf-8", "utf-8", 1),  # bytes and page say UTF-8: UTF-8 wins
        ("iso-8859-1", None, "utf-8", 1),
        ("utf-8", None, "utf-8", None),  # nothing to decide
        ("windows-1252", "windows-1252", "cp1252", None),  # the page agrees with its header
    ],
)
def test_utf8_bytes_win_over_a_wrong_header(
    header: str, meta_charset: str | None, body_encoding: str, counted: int | None
) -> None:
    charset = component(Utf8CharsetMiddleware)
    meta = f'<meta charset="{meta_charset}">' if meta_charset else ""
    body = f"<html><head>{meta}<title>{TITLE}</title></head><body></body></html>".encode(body_encoding)
    response = HtmlResponse(
        url=SITE + "/Energy/Coal/A.html", body=body, headers={"Content-Type": f"text/html; charset={header}"}
    )
    decoded = charset.process_response(response.request, response)
    assert TITLE in decoded.text
    assert charset.stats.get_value("oilnews/charset/utf8_over_header") == counted


# -- ChallengeRenderMiddleware ----------------------------------------------------------------
def challenge_response(request: Request) -> HtmlResponse:
    return HtmlResponse(url=request.url, status=403, body=CHALLENGE_HTML.encode(), request=request)


def test_challenge_without_a_browser_is_recorded() -> None:
    challenge = component(ChallengeRenderMiddleware)
    request = Request(SITE + "/Energy/Coal/A.html", meta={ARTICLE_PAGE: True})
    with pytest.raises(IgnoreRequest):
        challenge.process_response(request, challenge_response(request))
    assert challenge.stats.get_value("oilnews/render/unavailable") == 1
    assert challenge.stats.get_value("oilnews/skipped_urls")[0]["reason"] == "challenge_needs_browser"


def test_challenge_with_a_browser_is_fetched_again_rendered_once() -> None:
    challenge = component(ChallengeRenderMiddleware)
    challenge.available = True  # as if a Chromium were installed: no browser is started here
    request = Request(SITE + "/Energy/Coal/A.html", meta={ARTICLE_PAGE: True})
    rendered = challenge.process_response(request, challenge_response(request))
    assert isinstance(rendered, Request) and rendered.meta["playwright"] and rendered.dont_filter
    assert rendered.meta[RENDER_REASON] == "challenge"
    with pytest.raises(IgnoreRequest):  # still a challenge in the browser: given up, recorded
        challenge.process_response(rendered, challenge_response(rendered))
    assert challenge.stats.get_value("oilnews/skipped_urls")[0]["reason"] == "challenge_after_render"
    page = HtmlResponse(url=request.url, body=b'<div class="singleArticle">x</div>', request=request)
    assert challenge.process_response(request, page) is page


def test_render_always_marks_article_requests_only() -> None:
    challenge = component(ChallengeRenderMiddleware, OILNEWS_RENDER_ALWAYS=True)
    challenge.always = True
    article = Request(SITE + "/Energy/Coal/A.html", meta={ARTICLE_PAGE: True})
    listing = Request(SITE + "/Energy/Coal/")
    challenge.process_request(article)
    challenge.process_request(listing)
    assert article.meta.get("playwright") and not listing.meta.get("playwright")


# -- EmptyBodyRenderMiddleware ----------------------------------------------------------------
def empty_article(url: str) -> ArticleItem:
    return ArticleItem(url=url, title="T", body="", body_source="none")


def test_empty_body_goes_to_the_browser_until_rendering_stops_helping() -> None:
    empty = component(EmptyBodyRenderMiddleware)
    empty.available = True
    url = SITE + "/Energy/Coal/A.html"
    request = Request(url, meta={ARTICLE_PAGE: True})
    response = HtmlResponse(url=url, body=b"<html></html>", request=request)
    (out,) = empty.process_spider_output(response, [empty_article(url)])
    assert isinstance(out, Request) and out.meta[RENDER_REASON] == "empty_body"
    # Five renders that found no body either: a layout change; rendering stops for the run.
    for _ in range(5):
        rendered = HtmlResponse(url=url, body=b"<html></html>", request=out.replace(meta={**out.meta}))
        (judged,) = empty.process_spider_output(rendered, [empty_article(url)])
        assert isinstance(judged, ArticleItem)
    (final,) = empty.process_spider_output(response, [empty_article(url)])
    assert isinstance(final, ArticleItem) and empty.closed


def test_empty_body_without_a_browser_is_recorded_and_passed_on() -> None:
    empty = component(EmptyBodyRenderMiddleware)
    url = SITE + "/Energy/Coal/A.html"
    response = HtmlResponse(url=url, body=b"<html></html>", request=Request(url, meta={RENDERED: False}))
    item = empty_article(url)
    assert list(empty.process_spider_output(response, [item])) == [item]
    assert empty.stats.get_value("oilnews/skipped_urls")[0]["reason"] == "empty_body_needs_browser"
