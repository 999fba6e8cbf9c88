"""Charset: text decoded by what its bytes are when the HTTP header and the page disagree."""

from __future__ import annotations

import codecs
import logging
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import HtmlResponse, Response
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding

from oilnews.stats import key

logger = logging.getLogger(__name__)


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


class Utf8CharsetMiddleware:
    """Text decoded by what its bytes are, when the HTTP header and the page disagree.

    Scrapy believes the Content-Type header first. A server that says `charset=iso-8859-1`
    for a page whose bytes are UTF-8 (and whose own `<meta charset>` says so, or says nothing)
    would be stored as mojibake ("OPECâ€™s"). Valid UTF-8 with non-ASCII bytes is practically
    never meant as Latin-1, so then UTF-8 wins, and the choice is counted.
    """

    def __init__(self, stats: Any) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Utf8CharsetMiddleware:
        return cls(crawler.stats)

    def process_response(self, request: Request, response: Response) -> Response:
        if not isinstance(response, HtmlResponse):
            return response
        header = _codec(
            http_content_type_encoding((response.headers.get("Content-Type") or b"").decode("latin-1"))
        )
        if header in (None, "utf-8"):
            return response
        declared = _codec(html_body_declared_encoding(response.body))
        if declared not in (None, "utf-8") or response.body.isascii():
            return response
        try:
            response.body.decode("utf-8")
        except UnicodeDecodeError:
            return response
        self.stats.inc_value(key("charset", "utf8_over_header"))
        logger.debug("%s: bytes are UTF-8, header says %s: decoded as UTF-8", response.url, header)
        return response.replace(encoding="utf-8")
