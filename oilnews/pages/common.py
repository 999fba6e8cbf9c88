"""What the page parsers share: the page as a bare lxml tree queried with precompiled XPath
(`Page`; listings and feeds use parsel's selectors, where speed matters less), the visible
text of an element, and the JSON-LD lookup."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from lxml import etree
from parsel import Selector

from oilnews.text import clean_line

# Elements whose text is never article text.
SKIP_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "iframe",
        "template",
        "svg",
        "object",
        "embed",
        "form",
        "button",
        "select",
        "textarea",
    }
)


def _iter_text(element: Any) -> Iterator[str]:
    # Comments and processing instructions have a non-string tag: no text, tail kept by the parent.
    if isinstance(element.tag, str) and element.tag.lower() not in SKIP_TAGS:
        if element.text:
            yield element.text
        for child in element:
            yield from _iter_text(child)
            if child.tail:
                yield child.tail


def element_text(element: Any) -> str:
    """Visible text of an element, scripts and styles left out, whitespace collapsed."""
    return clean_line("".join(_iter_text(element)))


def selector_text(selector: Selector | None) -> str:
    return element_text(selector.root) if selector is not None else ""


@lru_cache(maxsize=256)
def _compiled(expression: str) -> etree.XPath:
    return etree.XPath(expression)


_UTF8_HTML = etree.HTMLParser(encoding="utf-8")


class Page:
    """A parsed document queried with precompiled XPath on the bare lxml tree.

    parsel wraps every result in a Selector; on a 180 KiB article page with ~40 queries
    that wrapping cost three times the parse itself, so the parsers query lxml directly.
    """

    def __init__(self, root: Any) -> None:
        self.root = root
        self._head: dict[str, str] | None = None
        self.memo: dict[str, Any] = {}  # lookups the parser's helpers share

    @classmethod
    def of(cls, response: Any) -> Page:
        """A plain lxml parse of the response's bytes (no parsel Selector, no HtmlElement
        class lookups: a quarter faster than `response.selector`)."""
        # Scrapy's decoding (headers, BOM, meta, fallbacks) is the robust part; lxml then
        # parses UTF-8, which it does natively. NUL bytes would end lxml's input early.
        if response.encoding.lower() in ("utf-8", "utf8") and not response.body.startswith(b"\xef\xbb\xbf"):
            body = response.body.replace(b"\x00", b"").strip()
        else:
            body = response.text.replace("\x00", "").strip().encode("utf-8", "replace")
        root = etree.fromstring(body, _UTF8_HTML) if body else None
        return cls(root if root is not None else etree.fromstring(b"<html><body></body></html>", _UTF8_HTML))

    def xpath(self, expression: str, node: Any = None) -> list[Any]:
        return list(_compiled(expression)(self.root if node is None else node))

    def meta(self, name: str) -> str | None:
        """`content` of <meta name=...> or <meta property=...>, `href` of <link rel=...>:
        the head is read once per page."""
        if self._head is None:
            self._head = {}
            for element in self.xpath("/html/head/meta | /html/head/link"):
                ident = element.get("name") or element.get("property") or element.get("rel")
                value = element.get("content") if element.tag == "meta" else element.get("href")
                if ident and value is not None:
                    self._head.setdefault(str(ident).lower(), str(value))
        return self._head.get(name.lower())

    def first_at(self, xpath: str, node: Any = None) -> Any:
        found = self.xpath(xpath, node)
        return found[0] if found else None

    def text_at(self, xpath: str, node: Any = None) -> str:
        element = self.first_at(xpath, node)
        return element_text(element) if element is not None else ""


def json_ld_objects(page: Page) -> Iterator[dict[str, Any]]:
    """Every JSON-LD object on the page, `@graph` members and arrays flattened.

    A block that does not parse is skipped: the rest of the page still parses.
    """
    for raw in page.xpath('//script[@type="application/ld+json"]/text()'):
        try:
            data = json.loads(raw, strict=False)
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        for obj in stack:
            if not isinstance(obj, dict):
                continue
            yield obj
            graph = obj.get("@graph")
            if isinstance(graph, list):
                yield from (g for g in graph if isinstance(g, dict))


def json_ld_of_type(page: Page, *types: str) -> dict[str, Any]:
    for obj in json_ld_objects(page):
        kind = obj.get("@type")
        kinds = kind if isinstance(kind, list) else [kind]
        if any(k in types for k in kinds):
            return obj
    return {}


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
