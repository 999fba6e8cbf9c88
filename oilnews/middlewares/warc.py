"""WARC capture: every fetch of a crawl (articles, listings, feeds, sitemaps, the ticker,
robots.txt; rendered pages as rendered) kept as a request and a response record, so the store
can be derived again from the pages themselves (`oilnews reparse`).

Placed next to the download handler (after the redirect and retry middlewares have seen
nothing yet): it sees each response as it arrived, every redirect and error included, and each
request with the headers it was sent with. The bytes go to oilnews.storage.warc's writer
thread; nothing here touches the disk.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from oilnews import version
from oilnews.stats import key
from oilnews.storage.warc import Fetch, WarcWriter, WriterCounts, warc_directory_of

logger = logging.getLogger(__name__)

NOT_MODIFIED = 304


def _header_list(headers: Any) -> list[tuple[bytes, bytes]]:
    return [(bytes(name), bytes(value)) for name, values in headers.items() for value in values]


class WarcCaptureMiddleware:
    """Hands each (request, response) to a WarcWriter; off when OILNEWS_WARC_DIR is empty."""

    def __init__(self, crawler: Crawler, writer_args: dict[str, Any]) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.skip_not_modified = crawler.settings.getbool("OILNEWS_WARC_SKIP_NOT_MODIFIED")
        self.writer_args = writer_args
        self.writer: WarcWriter | None = None
        # Set once the files are complete and counted: the run recorder waits for it, so the
        # crawl_runs row holds the final figures.
        self.finished = asyncio.Event()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        settings = crawler.settings
        directory = warc_directory_of(settings)
        if directory is None:
            raise NotConfigured("OILNEWS_WARC_DIR is empty: no WARC capture")
        writer_args = {
            "directory": directory,
            "max_bytes": int(settings.getfloat("OILNEWS_WARC_MAX_MB") * 1024 * 1024),
            "software": f"oilnews/{version()} (Scrapy)",
        }
        middleware = cls(crawler, writer_args)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def _writer(self) -> WarcWriter:
        """Started at the first fetch, when the run recorder has the run's id: it names the
        files (with the pid, as the workers of a distributed run write side by side)."""
        if self.writer is None:
            run_id = self.stats.get_value(key("run_id"))
            name = self.crawler.spider.name if self.crawler.spider is not None else "crawl"
            prefix = f"oilnews-{name}-run{run_id}" if run_id else f"oilnews-{name}"
            self.writer = WarcWriter(prefix=f"{prefix}-{os.getpid()}", **self.writer_args)
            self.stats.set_value(key("warc", "directory"), str(self.writer.directory))
        return self.writer

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status == NOT_MODIFIED and self.skip_not_modified:
            self.stats.inc_value(key("warc", "skipped_not_modified"))
            return response
        self._writer().put(
            Fetch(
                url=response.url,
                method=request.method,
                request_headers=_header_list(request.headers),
                request_body=request.body,
                status=response.status,
                response_headers=_header_list(response.headers),
                body=response.body,
                fetched_at=datetime.now(UTC),
                ip_address=str(response.ip_address) if response.ip_address else None,
                rendered=bool(request.meta.get("playwright")),
                http_version=response.protocol.upper() if response.protocol else "HTTP/1.1",
            )
        )
        self.stats.inc_value(key("warc", "fetches"))
        return response

    async def spider_closed(self, spider: Spider) -> None:
        writer, self.writer = self.writer, None
        try:
            if writer is not None:
                self._count(await asyncio.to_thread(writer.close))  # the last records, fsync: off the reactor
        finally:
            self.finished.set()

    def _count(self, counts: WriterCounts) -> None:
        self.stats.set_value(key("warc", "records"), counts.records)
        self.stats.set_value(key("warc", "bytes"), counts.bytes)
        self.stats.set_value(key("warc", "files"), counts.files)
        if counts.failed:
            self.stats.set_value(key("warc", "failed"), counts.failed)
            self.stats.set_value(key("warc", "error"), counts.error)
