"""The `reparse` spider: the store derived again from the captured pages, with no request.

It reads the WARC files a crawl wrote (oilnews.middlewares.warc), takes the newest capture of
each article, runs today's page parser over it and hands the item to the same pipelines a
crawl uses: clean, validate, dedupe, store. A changed article gets a new version as a crawl
would give it; an unchanged one is left as it is (its row is dated by the capture, not by now).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import Spider
from scrapy.http import HtmlResponse

from oilnews.dates import parse_user_instant
from oilnews.health import REPARSE_RECORDS_KEY
from oilnews.pages.article import parse_article
from oilnews.site import is_article_path, section_of_path
from oilnews.stats import key, record_skip
from oilnews.storage.captures import Capture, captured_responses, read_capture, warc_files
from oilnews.storage.warc import warc_directory_of
from oilnews.summary import REPARSE_SPIDER
from oilnews.urls import canonical_url

logger = logging.getLogger(__name__)


def newest_article_captures(directory: Path, sections: list[str]) -> tuple[list[Capture], int]:
    """The newest successful HTML capture of each article (by canonical URL) under
    `directory`, in the given sections (all when empty); and how many response records were read."""
    newest: dict[str, Capture] = {}
    read = 0
    for path in warc_files(directory):
        for capture, status, content_type in captured_responses(path):
            read += 1
            if status != 200 or "html" not in content_type.lower():
                continue
            url = canonical_url(capture.url) or capture.url
            path_part = urlsplit(url).path
            if not is_article_path(path_part):
                continue
            section = section_of_path(path_part) or ""
            if sections and not any(section == s or section.startswith(s + "/") for s in sections):
                continue
            if url not in newest or newest[url] < capture:
                newest[url] = capture
    return sorted(newest.values()), read


class ReparseSpider(Spider):
    name = REPARSE_SPIDER

    async def start(self) -> AsyncIterator[Any]:
        settings = self.crawler.settings
        stats = self.crawler.stats
        directory = warc_directory_of(settings)
        if directory is None:
            return
        sections = [s.strip().strip("/") for s in settings.getlist("OILNEWS_REPARSE_SECTIONS") if s.strip()]
        since_text = settings.get("OILNEWS_SINCE")
        since = parse_user_instant(since_text) if since_text else None
        # Reading and decompressing the files is the disk's and zlib's work: off the reactor.
        captures, read = await asyncio.to_thread(newest_article_captures, directory, sections)
        stats.set_value(REPARSE_RECORDS_KEY, read)
        stats.set_value(key("reparse", "captures"), len(captures))
        logger.info("reparse: %d article captures of %d responses in %s", len(captures), read, directory)
        for capture in captures:
            try:
                page = await asyncio.to_thread(read_capture, capture)
            except Exception as error:  # a damaged record: counted, the rest goes on
                logger.warning("reparse: capture of %s unreadable: %s", capture.url, error)
                record_skip(stats, capture.url, "capture_unreadable")
                continue
            response = HtmlResponse(url=page.url, status=page.status, headers=page.headers, body=page.body)
            stats.inc_value(key("pages", "article"))
            try:
                item = parse_article(response)
            except Exception:
                logger.exception("could not parse article %s", page.url)
                stats.inc_value(key("pages", "parse_error"))
                record_skip(stats, page.url, "parse_error")
                continue
            if since is not None and item.published_at is not None and item.published_at < since:
                stats.inc_value(key("skipped", "before_since"))
                continue
            item.seen_at = page.fetched_at
            yield item
