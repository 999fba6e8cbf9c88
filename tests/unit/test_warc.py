"""The WARC capture middleware as a component (built from get_crawler with the project's
settings): what it writes for a fetch, what it leaves out, and a disk that refuses."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, Response
from scrapy.utils.misc import build_from_crawler
from warcio.archiveiterator import ArchiveIterator

from oilnews.middlewares.warc import WarcCaptureMiddleware
from oilnews.spiders.news import NewsSpider
from oilnews.storage.captures import captured_responses, read_capture
from oilnews.storage.warc import warc_directory
from tests.helpers import make_crawler

SITE = "http://127.0.0.1:8900"
PAGE = SITE + "/Energy/Crude-Oil/A.html"


def capture(directory: Path, **settings: Any) -> Any:
    crawler = make_crawler(NewsSpider, OILNEWS_WARC_DIR=str(directory), OILNEWS_RENDER=False, **settings)
    crawler.spider = NewsSpider.from_crawler(crawler)
    return build_from_crawler(WarcCaptureMiddleware, crawler)


def close(middleware: Any) -> None:
    asyncio.run(middleware.spider_closed(middleware.crawler.spider))


@pytest.mark.parametrize(
    ("setting", "database", "expected"),
    [
        ("auto", "sqlite:////var/lib/oilnews/oilnews.db", Path("/var/lib/oilnews/warc")),
        ("auto", "sqlite:///demo.db", Path("warc")),
        ("auto", "postgresql://oilnews@db/oilnews", Path("warc")),
        ("/srv/warc", "sqlite:///demo.db", Path("/srv/warc")),
        ("", "sqlite:///demo.db", None),
        ("  ", "postgresql://oilnews@db/oilnews", None),
    ],
)
def test_where_captures_go(setting: str, database: str, expected: Path | None) -> None:
    assert warc_directory(setting, database) == expected


def test_a_fetch_is_a_request_and_a_response_record(tmp_path: Path) -> None:
    middleware = capture(tmp_path)
    request = Request(PAGE, headers={"User-Agent": "oilnews-test"}, meta={"playwright": True})
    body = "<html><body><h1>Crude \u2014 up</h1></body></html>".encode()
    response = HtmlResponse(
        PAGE, body=body, headers={"Content-Type": "text/html; charset=utf-8"}, request=request
    )
    assert middleware.process_response(request, response) is response
    not_modified = Response(PAGE, status=304, request=request)
    assert middleware.process_response(request, not_modified) is not_modified  # skipped: nothing new in it
    close(middleware)
    stats = middleware.crawler.stats
    assert stats.get_value("oilnews/warc/fetches") == 1
    assert stats.get_value("oilnews/warc/skipped_not_modified") == 1
    assert stats.get_value("oilnews/warc/records") == 2 and stats.get_value("oilnews/warc/files") == 1

    (path,) = tmp_path.glob("*.warc.gz")
    with path.open("rb") as stream:
        records = [(r.rec_type, r.rec_headers, r.http_headers) for r in ArchiveIterator(stream)]
    assert [kind for kind, _, _ in records] == ["warcinfo", "response", "request"]
    _, response_headers, http = records[1]
    assert response_headers.get_header("WARC-Oilnews-Rendered") == "chromium"  # the browser's DOM
    assert http.get_header("Content-Length") == str(len(body))
    _, request_headers, request_http = records[2]
    assert request_http.protocol == "GET" and request_http.get_header("User-Agent") == "oilnews-test"
    assert request_headers.get_header("WARC-Concurrent-To") == response_headers.get_header("WARC-Record-ID")
    ((where, status, content_type),) = list(captured_responses(path))
    assert (status, content_type) == (200, "text/html; charset=utf-8")
    assert read_capture(where).body == body


def test_the_304s_too_when_asked(tmp_path: Path) -> None:
    middleware = capture(tmp_path, OILNEWS_WARC_SKIP_NOT_MODIFIED=False)
    request = Request(PAGE)
    middleware.process_response(request, Response(PAGE, status=304, request=request))
    close(middleware)
    assert middleware.crawler.stats.get_value("oilnews/warc/records") == 2


def test_a_disk_that_refuses_is_counted_and_the_crawl_goes_on(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the directory should be")
    middleware = capture(blocked)
    request = Request(PAGE)
    for _ in range(3):
        response = HtmlResponse(PAGE, body=b"<html></html>", request=request)
        assert middleware.process_response(request, response) is response
    close(middleware)
    stats = middleware.crawler.stats
    assert stats.get_value("oilnews/warc/failed") == 3 and stats.get_value("oilnews/warc/records") == 0
    assert "FileExistsError" in stats.get_value("oilnews/warc/error")
